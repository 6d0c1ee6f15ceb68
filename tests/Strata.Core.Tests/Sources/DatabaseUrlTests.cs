using Strata.Repository;
using Strata.Sources;

namespace Strata.Core.Tests.Sources;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void A_full_url_is_split_and_percent_decoded()
    {
        var u = DatabaseUrl.Parse("postgresql://ann%40corp:p%40ss%2Fw%3Ard@db1.example.org:5433/shop%20eu?sslmode=require", DatabaseKind.Postgres, "--postgres");
        Assert.Equal("ann@corp", u.User);
        Assert.Equal("p@ss/w:rd", u.Password);
        Assert.Equal("db1.example.org", u.Host);
        Assert.Equal(5433, u.Port);
        Assert.Equal("shop eu", u.Database);
        Assert.Equal([new KeyValuePair<string, string>("sslmode", "require")], u.Query);
        Assert.DoesNotContain("p%40ss", u.Display);
        Assert.Equal("postgresql://ann%40corp@db1.example.org:5433/shop%20eu?sslmode=require", u.Display);
    }

    [Theory]
    [InlineData("postgres://h/db", null, null, "h", null)]
    [InlineData("postgresql:///db", null, null, null, null)]
    [InlineData("postgresql://u@[::1]:5432/db", "u", null, "::1", 5432)]
    [InlineData("postgresql://u:@h/db", "u", "", "h", null)]
    public void Optional_parts_may_be_left_out(string url, string? user, string? password, string? host, int? port)
    {
        var u = DatabaseUrl.Parse(url, DatabaseKind.Postgres, "--postgres");
        Assert.Equal((user, password, host, port, "db"), (u.User, u.Password, u.Host, u.Port, u.Database));
    }

    [Theory]
    [InlineData("mysql://root:pw@127.0.0.1:3307/shop")]
    [InlineData("mariadb://root:pw@127.0.0.1:3307/shop")]
    public void Mysql_takes_mysql_and_mariadb_schemes(string url) =>
        Assert.Equal("shop", DatabaseUrl.Parse(url, DatabaseKind.Mysql, "--mysql").Database);

    [Theory]
    [InlineData("postgresql://u:TopSecret@h:0/db", "the port 0 is not from 1 to 65535")]
    [InlineData("postgresql://u:TopSecret@h:abc/db", "the port (after the host's ':') is not a number")]
    [InlineData("postgresql://u:TopSecret/db", "the port (after the host's ':') is not a number")]
    [InlineData("postgresql://u:TopSecret@h/", "the database name is missing")]
    [InlineData("postgresql://u:TopSecret@h/a/b", "has a '/'")]
    [InlineData("postgresql://u:Top%GGSecret@h/db", "the password has a '%'")]
    [InlineData("postgresql://%ZZ:TopSecret@h/db", "the user name has a '%'")]
    [InlineData("postgresql://u:TopSecret@h/db?sslmode", "'sslmode' is not KEY=VALUE")]
    [InlineData("postgresql://u:TopSecret@h/db?password=x", "give the password before the host")]
    [InlineData("postgresql://u:TopSecret@h:5432:1/db", "write an IPv6 address in brackets")]
    [InlineData("ftp://u:TopSecret@h/db", "the scheme 'ftp' is not postgresql or postgres")]
    [InlineData("u:TopSecret@h/db", "the scheme is missing")]
    public void Problems_name_the_part_and_never_show_the_password(string url, string fragment)
    {
        var e = Assert.Throws<UserInputException>(() => DatabaseUrl.Parse(url, DatabaseKind.Postgres, "--postgres"));
        Assert.Contains(fragment, e.Message);
        Assert.StartsWith("--postgres ", e.Message);
        Assert.DoesNotContain("TopSecret", e.Message);
    }

    [Theory]
    [InlineData("postgresql://u:secret@h/db", "postgresql://u:***@h/db")]
    [InlineData("postgresql://u:se@cret@h/db", "postgresql://u:***@h/db")]
    [InlineData("postgresql://u@h:5432/db", "postgresql://u@h:5432/db")]
    [InlineData("postgresql://u:secret/db", "postgresql://u:***/db")]
    [InlineData("postgresql://h:5432/db", "postgresql://h:5432/db")]
    public void Redact_hides_the_password(string url, string shown) => Assert.Equal(shown, DatabaseUrl.Redact(url));

    [Fact]
    public void Mysql_refuses_parameters_its_tools_do_not_take()
    {
        var u = DatabaseUrl.Parse("mysql://u:p@h/db?ssl=1", DatabaseKind.Mysql, "--mysql");
        var e = Assert.Throws<UserInputException>(() => Mysql.Check(u, "--mysql"));
        Assert.Contains("'ssl' is not supported", e.Message);
        Assert.Equal("db", Mysql.Check(DatabaseUrl.Parse("mysql://u@localhost/db?socket=/run/mysqld/mysqld.sock", DatabaseKind.Mysql, "--mysql"), "--mysql").Database);
    }

    [Fact]
    public void Postgres_connection_string_quotes_values_and_has_no_password()
    {
        var u = DatabaseUrl.Parse("postgresql://o%27neil:pw@h:5433/it%27s?application_name=a%20b", DatabaseKind.Postgres, "--postgres");
        string conninfo = Postgres.ConnInfo(u);
        Assert.Equal("host='h' port=5433 user='o\\'neil' dbname='it\\'s' application_name='a b'", conninfo);
        Assert.DoesNotContain("pw", conninfo);
    }
}
