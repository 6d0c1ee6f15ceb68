using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>
/// The real database servers of the test run, started by scripts/services/postgres.sh and mariadb.sh (scripts/test.sh
/// starts both): PostgreSQL on 127.0.0.1:5433 (superuser postgres, password postgres-test, password auth over TCP)
/// and MariaDB on 127.0.0.1:3307 (strata_admin / mariadb-test). Tests talk to them through the real psql and mariadb
/// clients. A test skips, saying how to start the server, when it does not answer, unless STRATA_REQUIRE_DATABASES=1
/// (set by scripts/test.sh), which turns that into a failure.
/// </summary>
internal abstract class DatabaseServer
{
    public abstract string Name { get; }
    public abstract int Port { get; }
    public abstract string Script { get; }

    public bool Answering()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Skips (or fails, with STRATA_REQUIRE_DATABASES=1) when the server is not up.</summary>
    public void Require()
    {
        if (Answering())
        {
            return;
        }
        string why = $"{Name} is not answering on 127.0.0.1:{Port}: start it with {Script} start (scripts/test.sh does)";
        Assert.False(Environment.GetEnvironmentVariable("STRATA_REQUIRE_DATABASES") == "1", why + "; STRATA_REQUIRE_DATABASES=1 makes this a failure");
        Skip.If(true, why);
    }

    /// <summary>A fresh database name for one test.</summary>
    public static string NewDatabaseName(string prefix) => $"{prefix}_{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Runs a client program; returns stdout, failing the test with its stderr when it fails.</summary>
    protected static string Run(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string> env, string? input = null)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env)
        {
            psi.Environment[k] = v;
        }
        psi.StandardInputEncoding = new UTF8Encoding(false);
        psi.StandardOutputEncoding = Encoding.UTF8;
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        Task<string> output = p.StandardOutput.ReadToEndAsync();
        if (input is not null)
        {
            p.StandardInput.Write(input);
        }
        p.StandardInput.Close();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', psi.ArgumentList)} failed with {p.ExitCode}: {err.Result}");
        return output.Result;
    }

    /// <summary>The SHA-256 of a query's output (its rows in order, as text), and how many rows it had.</summary>
    public (string Digest, int Rows) Digest(string database, string query)
    {
        string text = Query(database, query);
        int rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        return (Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))), rows);
    }

    /// <summary>Runs one query; its rows as tab- or pipe-separated text, one per line.</summary>
    public abstract string Query(string database, string query);

    /// <summary>Runs a script of statements against a database.</summary>
    public abstract void Execute(string database, string sql);
}

internal sealed class PostgresServer : DatabaseServer
{
    public const string AdminPassword = "postgres-test";
    public static readonly PostgresServer Instance = new();

    public override string Name => "PostgreSQL";
    public override int Port => 5433;
    public override string Script => "scripts/services/postgres.sh";

    /// <summary>postgresql://USER:PASSWORD@127.0.0.1:5433/DATABASE</summary>
    public string Url(string database, string user = "postgres", string password = AdminPassword) =>
        $"postgresql://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{Port}/{Uri.EscapeDataString(database)}";

    private static readonly Dictionary<string, string> Env = new() { ["PGPASSWORD"] = AdminPassword, ["PGTZ"] = "UTC", ["PGCLIENTENCODING"] = "UTF8" };

    private static string[] Args(string database) => ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "5433", "-U", "postgres", "-d", database];

    public override string Query(string database, string query) => Run("psql", [.. Args(database), "-A", "-t", "-c", query], Env);

    public override void Execute(string database, string sql) => Run("psql", Args(database), Env, sql);

    public bool Exists(string database) => Query("postgres", $"SELECT count(*) FROM pg_database WHERE datname = '{database}'").Trim() == "1";

    public void Drop(string database) => Execute("postgres", $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE);");
}

internal sealed class MariaDbServer : DatabaseServer
{
    public const string Admin = "strata_admin";
    public const string AdminPassword = "mariadb-test";
    public static readonly MariaDbServer Instance = new();

    public override string Name => "MariaDB";
    public override int Port => 3307;
    public override string Script => "scripts/services/mariadb.sh";

    public string Url(string database, string user = Admin, string password = AdminPassword) =>
        $"mysql://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{Port}/{Uri.EscapeDataString(database)}";

    private static readonly Dictionary<string, string> Env = new() { ["MYSQL_PWD"] = AdminPassword };

    private static string[] Args() => ["--no-defaults", "--protocol=TCP", "-h", "127.0.0.1", "-P", "3307", "-u", Admin, "--default-character-set=utf8mb4", "--batch", "--skip-column-names"];

    public override string Query(string database, string query) => Run("mariadb", [.. Args(), .. Database(database), "-e", query], Env);

    private static string[] Database(string database) => database.Length == 0 ? [] : ["--database=" + database];

    public override void Execute(string database, string sql) => Run("mariadb", [.. Args(), .. Database(database)], Env, sql);

    public bool Exists(string database) => Query("", $"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{database}'").Trim() == "1";

    public void Drop(string database) => Execute("", $"DROP DATABASE IF EXISTS `{database}`;");
}
