using System.Text;
using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// strata backup --postgres / --mysql and restore --to-postgres / --to-mysql against the real servers of the test
/// run (PostgreSQL 15 on :5433, MariaDB on :3307; see <see cref="DatabaseServer"/>): create data (several tables,
/// thousands of rows, binary columns, unicode), back up, drop the database, restore, compare the rows query by
/// query. Bad input: a dump failing after it wrote data, a wrong password, malformed URLs.
/// </summary>
public sealed class PostgresTests : IDisposable
{
    private readonly Sandbox _box = new("pg");
    private readonly PostgresServer _pg = PostgresServer.Instance;
    private readonly List<string> _databases = [];
    private readonly List<string> _roles = [];

    public void Dispose()
    {
        if (_pg.Answering())
        {
            foreach (string db in _databases)
            {
                _pg.Drop(db);
            }
            foreach (string role in _roles)
            {
                _pg.Execute("postgres", $"DROP ROLE IF EXISTS {role};");
            }
        }
        _box.Dispose();
    }

    private static readonly string[] Queries =
    [
        "SELECT id, name, city FROM customers ORDER BY id",
        "SELECT id, customer_id, amount, placed FROM orders ORDER BY id",
        "SELECT id, encode(data, 'hex') FROM attachments ORDER BY id",
        "SELECT last_value FROM orders_id_seq",
    ];

    private const string Schema = """
        CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text);
        INSERT INTO customers SELECT i, 'Kunde ' || i || ' — Zoë Ørsted 東京 😀 ' || md5(i::text), (ARRAY['Zürich', 'Kraków', 'São Paulo', '東京'])[1 + i % 4]
            FROM generate_series(1, 3000) i;
        CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), amount numeric(12, 2), placed timestamptz);
        INSERT INTO orders (customer_id, amount, placed) SELECT 1 + i % 3000, (i * 7.31)::numeric(12, 2), timestamptz '2024-01-01 00:00+00' + i * interval '17 minutes'
            FROM generate_series(1, 5000) i;
        CREATE TABLE attachments (id int PRIMARY KEY, data bytea NOT NULL);
        INSERT INTO attachments SELECT i, decode(string_agg(md5(i::text || '/' || j::text), '' ORDER BY j), 'hex')
            FROM generate_series(1, 500) i, generate_series(1, 1 + i % 40) j GROUP BY i;
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 1000;
        """;

    private string NewDatabase()
    {
        string db = DatabaseServer.NewDatabaseName("strata_e2e");
        _databases.Add(db);
        _pg.Execute("postgres", $"CREATE DATABASE {db};");
        return db;
    }

    private List<(string Digest, int Rows)> Contents(string db) => Queries.Select(q => _pg.Digest(db, q)).ToList();

    private async Task<int> SnapshotCountAsync()
    {
        var r = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetArrayLength();
    }

    [SkippableFact]
    public async Task Backup_drop_and_restore_gives_back_the_same_rows()
    {
        _pg.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        _pg.Execute(db, Schema);
        var before = Contents(db);
        Assert.Equal(new[] { 3000, 5000, 500, 1 }, before.Select(c => c.Rows));

        var backup = await _box.Strata("backup", "--postgres", _pg.Url(db), "--json");
        CliAssert.Ok(backup);
        Assert.Equal("postgres", backup.Summary.GetProperty("source").GetString());
        Assert.Equal($"/{db}.pgdump", backup.Summary.GetProperty("path").GetString());
        Assert.True(backup.Summary.GetProperty("bytes_read").GetInt64() > 500_000, backup.ToString());

        // what the snapshot records: kind, database, host, port, user, tool and version; never the password
        var list = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(list);
        Assert.DoesNotContain(PostgresServer.AdminPassword, list.Stdout);
        Assert.DoesNotContain(PostgresServer.AdminPassword, backup.Stdout + backup.Stderr);
        using (var doc = JsonDocument.Parse(list.Stdout))
        {
            JsonElement source = doc.RootElement[0].GetProperty("source");
            Assert.Equal("postgres", source.GetProperty("kind").GetString());
            Assert.Equal(db, source.GetProperty("database").GetString());
            Assert.Equal("127.0.0.1", source.GetProperty("database_host").GetString());
            Assert.Equal(5433, source.GetProperty("database_port").GetInt32());
            Assert.Equal("postgres", source.GetProperty("database_user").GetString());
            Assert.StartsWith("pg_dump (PostgreSQL) 15", source.GetProperty("tool_version").GetString());
        }
        // the file is a pg_dump custom-format archive
        var dump = await _box.Strata("dump", "latest", $"{db}.pgdump");
        CliAssert.Ok(dump);
        Assert.Equal("PGDMP", Encoding.ASCII.GetString(dump.StdoutBytes, 0, 5));

        _pg.Drop(db);
        Assert.False(_pg.Exists(db));
        var restore = await _box.Strata("restore", "latest", "--to-postgres", _pg.Url(db));
        CliAssert.Ok(restore);
        Assert.Contains($"created database {db}", restore.Stdout);
        Assert.Equal(before, Contents(db));
        Assert.Equal("1", _pg.Query(db, "SELECT count(*) FROM pg_views WHERE viewname = 'big_orders'").Trim());

        // into a database that has the objects already: refused (one transaction, nothing changed) unless --clean
        _pg.Execute(db, "DELETE FROM attachments WHERE id > 250;");
        var again = await _box.Strata("restore", "latest", "--to-postgres", _pg.Url(db));
        CliAssert.FailsCleanly(1, again, "pg_restore exited with status 1", "already exists");
        Assert.Equal(250, _pg.Digest(db, Queries[2]).Rows);
        var clean = await _box.Strata("restore", "latest", "--to-postgres", _pg.Url(db), "--clean");
        CliAssert.Ok(clean);
        Assert.Equal(before, Contents(db));

        // into another, new database
        string copy = DatabaseServer.NewDatabaseName("strata_e2e_copy");
        _databases.Add(copy);
        CliAssert.Ok(await _box.Strata("restore", "latest", "--to-postgres", _pg.Url(copy)));
        Assert.Equal(before, Contents(copy));
    }

    [SkippableFact]
    public async Task Pg_dump_failing_after_it_wrote_data_saves_no_snapshot()
    {
        _pg.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        string role = DatabaseServer.NewDatabaseName("strata_reader");
        _roles.Add(role);
        // pg_dump reads with row security off; a table whose policy hides rows from this (non-owner) user makes
        // its COPY fail. Custom format writes the header and table of contents first, then each table's data in
        // name order: a_rows (megabytes) is out before z_private fails.
        _pg.Execute(db, $"""
            CREATE TABLE a_rows (id int PRIMARY KEY, payload text);
            INSERT INTO a_rows SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 20000) i;
            CREATE TABLE z_private (id int, secret text);
            INSERT INTO z_private VALUES (1, 'hidden');
            ALTER TABLE z_private ENABLE ROW LEVEL SECURITY;
            CREATE POLICY only_big_ids ON z_private USING (id > 100);
            CREATE ROLE {role} LOGIN PASSWORD 'reader-pw';
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};
            """);
        CliAssert.Ok(await _box.Strata("backup", "--stdin-from-command", "echo an earlier good backup", "--stdin-filename", "other"));

        var r = await _box.Strata("backup", "--postgres", _pg.Url(db, role, "reader-pw"));
        CliAssert.FailsCleanly(1, r, "pg_dump exited with status 1", $"dumping database {db}", "after writing", "no snapshot was saved", "row-level security", "z_private");
        Assert.Matches(@"after writing \d+(\.\d)? MiB", r.Stderr);
        Assert.DoesNotContain("reader-pw", r.Stderr + r.Stdout);
        Assert.Equal(1, await SnapshotCountAsync());
        var latest = await _box.Strata("dump", "latest", "other");
        CliAssert.Ok(latest);
        Assert.Equal("an earlier good backup\n", latest.Stdout);
        CliAssert.Ok(await _box.Strata("check", "--read-data"));
    }

    [SkippableFact]
    public async Task A_wrong_password_is_a_clear_error_that_does_not_echo_it()
    {
        _pg.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        _pg.Execute(db, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
        const string Wrong = "Not-The-Password-42";

        var backup = await _box.Strata("backup", "--postgres", _pg.Url(db, "postgres", Wrong));
        CliAssert.FailsCleanly(1, backup, "pg_dump exited with status 1", "before writing anything", "password authentication failed", "no snapshot was saved");
        Assert.DoesNotContain(Wrong, backup.Stderr + backup.Stdout);
        Assert.Equal(0, await SnapshotCountAsync());

        CliAssert.Ok(await _box.Strata("backup", "--postgres", _pg.Url(db)));
        var restore = await _box.Strata("restore", "latest", "--to-postgres", _pg.Url(db + "_new", "postgres", Wrong));
        CliAssert.FailsCleanly(1, restore, "psql exited with status 2", "password authentication failed", "nothing was restored");
        Assert.DoesNotContain(Wrong, restore.Stderr + restore.Stdout);
        Assert.False(_pg.Exists(db + "_new"));
    }

    [Theory]
    [InlineData("postgresql://u:Secret-1@127.0.0.1:99999/db", "the port 99999 is not from 1 to 65535")]
    [InlineData("postgresql://u:Secret-1@127.0.0.1:54x/db", "the port (after the host's ':') is not a number")]
    [InlineData("postgresql://u:Secret-1@127.0.0.1:5433/", "the database name is missing")]
    [InlineData("postgresql://u:Secret-1@127.0.0.1:5433", "the database name is missing")]
    [InlineData("postgresql://u:Sec%zzret-1@127.0.0.1:5433/db", "the password has a '%'")]
    [InlineData("postgresql://u:Secret-1@db host:5433/db", "the host 'db host' is not a host name")]
    [InlineData("postgresql://u:Secret-1@[::1:5433/db", "no closing ']'")]
    [InlineData("mysql://u:Secret-1@127.0.0.1:5433/db", "the scheme 'mysql' is not postgresql")]
    [InlineData("127.0.0.1:5433/db", "the scheme is missing")]
    [InlineData("postgresql://u:Secret-1/db", "is not a number")]
    public async Task A_malformed_url_is_a_usage_error_naming_the_part(string url, string fragment)
    {
        await _box.InitAsync();
        var backup = await _box.Strata("backup", "--postgres", url);
        CliAssert.FailsCleanly(2, backup, "--postgres", fragment);
        Assert.DoesNotContain("Secret-1", backup.Stderr);
        var restore = await _box.Strata("restore", "latest", "--to-postgres", url);
        CliAssert.FailsCleanly(2, restore, "--to-postgres", fragment);
        Assert.DoesNotContain("Secret-1", restore.Stderr);
    }
}

public sealed class MariaDbTests : IDisposable
{
    private readonly Sandbox _box = new("mariadb");
    private readonly MariaDbServer _my = MariaDbServer.Instance;
    private readonly List<string> _databases = [];

    public void Dispose()
    {
        if (_my.Answering())
        {
            foreach (string db in _databases)
            {
                _my.Drop(db);
            }
        }
        _box.Dispose();
    }

    private static readonly string[] Queries =
    [
        "SELECT id, name, city FROM customers ORDER BY id",
        "SELECT id, customer_id, amount, placed FROM orders ORDER BY id",
        "SELECT id, HEX(data) FROM attachments ORDER BY id",
        "SELECT AUTO_INCREMENT FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'orders'",
    ];

    private const string Schema = """
        CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL, city VARCHAR(50)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        INSERT INTO customers SELECT seq, CONCAT('Kunde ', seq, ' — Zoë Ørsted 東京 😀 ', MD5(seq)), ELT(1 + seq % 4, 'Zürich', 'Kraków', 'São Paulo', '東京') FROM seq_1_to_3000;
        CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, amount DECIMAL(12, 2), placed DATETIME(6),
            FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB;
        INSERT INTO orders (customer_id, amount, placed) SELECT 1 + seq % 3000, seq * 7.31, '2024-01-01' + INTERVAL seq * 17 MINUTE FROM seq_1_to_5000;
        CREATE TABLE attachments (id INT PRIMARY KEY, data MEDIUMBLOB NOT NULL) ENGINE=InnoDB;
        INSERT INTO attachments SELECT seq, UNHEX(REPEAT(MD5(seq), 1 + seq % 40)) FROM seq_1_to_500;
        INSERT INTO attachments VALUES (501, 0x00FF00270A0D5C);
        CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 1000;
        """;

    private string NewDatabase()
    {
        string db = DatabaseServer.NewDatabaseName("strata_e2e");
        _databases.Add(db);
        _my.Execute("", $"CREATE DATABASE `{db}`;");
        return db;
    }

    private List<(string Digest, int Rows)> Contents(string db) => Queries.Select(q => _my.Digest(db, q)).ToList();

    private async Task<int> SnapshotCountAsync()
    {
        var r = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetArrayLength();
    }

    [SkippableFact]
    public async Task Backup_drop_and_restore_gives_back_the_same_rows()
    {
        _my.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        _my.Execute(db, Schema);
        var before = Contents(db);
        Assert.Equal(new[] { 3000, 5000, 501, 1 }, before.Select(c => c.Rows));

        var backup = await _box.Strata("backup", "--mysql", _my.Url(db), "--json");
        CliAssert.Ok(backup);
        Assert.Equal("mysql", backup.Summary.GetProperty("source").GetString());
        Assert.Equal($"/{db}.sql", backup.Summary.GetProperty("path").GetString());

        var list = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(list);
        Assert.DoesNotContain(MariaDbServer.AdminPassword, list.Stdout + backup.Stdout + backup.Stderr);
        using (var doc = JsonDocument.Parse(list.Stdout))
        {
            JsonElement source = doc.RootElement[0].GetProperty("source");
            Assert.Equal("mysql", source.GetProperty("kind").GetString());
            Assert.Equal(db, source.GetProperty("database").GetString());
            Assert.Equal("127.0.0.1", source.GetProperty("database_host").GetString());
            Assert.Equal(3307, source.GetProperty("database_port").GetInt32());
            Assert.Contains("MariaDB", source.GetProperty("tool_version").GetString());
        }
        // --single-transaction: a consistent InnoDB snapshot without locking the tables
        var dump = await _box.Strata("dump", "latest", $"{db}.sql");
        CliAssert.Ok(dump);
        Assert.Contains("CREATE TABLE `attachments`", dump.Stdout);

        _my.Drop(db);
        Assert.False(_my.Exists(db));
        var restore = await _box.Strata("restore", "latest", "--to-mysql", _my.Url(db));
        CliAssert.Ok(restore);
        Assert.Contains($"created database {db}", restore.Stdout);
        Assert.Equal(before, Contents(db));
        Assert.Equal("1", _my.Query(db, "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = DATABASE() AND table_name = 'big_orders'").Trim());

        // over an existing database: the dump's tables are replaced
        _my.Execute(db, "DELETE FROM attachments WHERE id > 250;");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--to-mysql", _my.Url(db)));
        Assert.Equal(before, Contents(db));

        // a PostgreSQL target for a MySQL dump is refused before anything runs
        var wrongKind = await _box.Strata("restore", "latest", "--to-postgres", "postgresql://u:p@127.0.0.1:5433/x");
        CliAssert.FailsCleanly(2, wrongKind, "holds a MySQL/MariaDB dump", "--to-mysql");
    }

    [SkippableFact]
    public async Task A_dump_failing_after_it_wrote_data_saves_no_snapshot()
    {
        _my.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        // mariadb-dump writes each table with its data in name order, then the views; a view whose table is gone
        // fails it after the data of the tables before it is out.
        _my.Execute(db, """
            CREATE TABLE a_rows (id INT PRIMARY KEY, payload TEXT);
            INSERT INTO a_rows SELECT seq, REPEAT(MD5(seq), 20) FROM seq_1_to_20000;
            CREATE TABLE zz_gone (id INT);
            CREATE VIEW zz_view AS SELECT * FROM zz_gone;
            DROP TABLE zz_gone;
            """);
        var r = await _box.Strata("backup", "--mysql", _my.Url(db));
        CliAssert.FailsCleanly(1, r, "exited with status 2", $"dumping database {db}", "after writing", "no snapshot was saved", "zz_view");
        Assert.Matches(@"after writing \d+(\.\d)? MiB", r.Stderr);
        Assert.Equal(0, await SnapshotCountAsync());
        CliAssert.Ok(await _box.Strata("check"));
    }

    [SkippableFact]
    public async Task A_wrong_password_is_a_clear_error_that_does_not_echo_it()
    {
        _my.Require();
        await _box.InitAsync();
        string db = NewDatabase();
        const string Wrong = "Not-The-Password-42";
        var backup = await _box.Strata("backup", "--mysql", _my.Url(db, MariaDbServer.Admin, Wrong));
        CliAssert.FailsCleanly(1, backup, "before writing anything", "Access denied", "no snapshot was saved");
        Assert.DoesNotContain(Wrong, backup.Stderr + backup.Stdout);
        Assert.Equal(0, await SnapshotCountAsync());

        _my.Execute(db, "CREATE TABLE t (id INT); INSERT INTO t VALUES (1);");
        CliAssert.Ok(await _box.Strata("backup", "--mysql", _my.Url(db)));
        var restore = await _box.Strata("restore", "latest", "--to-mysql", _my.Url(db, MariaDbServer.Admin, Wrong));
        CliAssert.FailsCleanly(1, restore, "Access denied", "nothing was restored");
        Assert.DoesNotContain(Wrong, restore.Stderr + restore.Stdout);
    }

    [Theory]
    [InlineData("mysql://u:Secret-1@127.0.0.1:3307/db?ssl=true", "the query parameter 'ssl' is not supported")]
    [InlineData("mysql://u:Secret-1@127.0.0.1:0/db", "the port 0 is not from 1 to 65535")]
    [InlineData("mysql://u:Secret-1@127.0.0.1:3307/-db", "starts with '-'")]
    [InlineData("postgresql://u:Secret-1@127.0.0.1:3307/db", "a PostgreSQL URL")]
    [InlineData("mariadb://:Secret-1@127.0.0.1:3307/db", "the user name before '@' is empty")]
    public async Task A_malformed_url_is_a_usage_error_naming_the_part(string url, string fragment)
    {
        await _box.InitAsync();
        var backup = await _box.Strata("backup", "--mysql", url);
        CliAssert.FailsCleanly(2, backup, "--mysql", fragment);
        Assert.DoesNotContain("Secret-1", backup.Stderr);
    }
}
