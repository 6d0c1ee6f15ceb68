using System.Text;
using Strata.Snapshots;

namespace Strata.Sources;

/// <summary>
/// PostgreSQL through its own tools: pg_dump (custom format) for a backup, pg_restore for a restore, psql to create
/// a missing database. The connection goes to libpq as a keyword/value string without the password; the password
/// travels in PGPASSWORD, in the child's environment only, never on a command line.
/// </summary>
public static class Postgres
{
    private const string Install = "the PostgreSQL client tools (Debian: apt-get install postgresql-client)";

    /// <summary>
    /// Starts pg_dump --format=custom streaming to stdout. --compress=0: Strata chunks, deduplicates and compresses
    /// the dump itself, and an uncompressed dump deduplicates against yesterday's (a zlib-compressed one does not).
    /// </summary>
    public static async Task<StreamInput> StartDumpAsync(DatabaseUrl url, string? fileName, CancellationToken ct)
    {
        string tool = Tools.Find(Install, "pg_dump");
        string version = await Tools.VersionAsync(tool, ct).ConfigureAwait(false);
        var spec = new CommandSpec(tool, ["--format=custom", "--compress=0", "--no-password", "--dbname=" + ConnInfo(url)]) { Environment = Env(url) };
        var info = new SourceInfo
        {
            Kind = "postgres",
            FileName = fileName ?? url.Database + ".pgdump",
            Database = url.Database,
            DatabaseHost = url.Host,
            DatabasePort = url.Port,
            DatabaseUser = url.User,
            Tool = "pg_dump",
            ToolVersion = version,
            Format = "pg_dump custom",
        };
        return CommandInput.Start(spec, info, $"dumping {url.Describe()}");
    }

    /// <summary>
    /// Restores a custom-format dump: creates the database when it does not exist (connecting to the maintenance
    /// database "postgres"), then runs pg_restore reading the dump from its stdin, in one transaction (a restore
    /// that fails leaves nothing behind). With <paramref name="clean"/>, objects of the dump that exist already are
    /// dropped first (pg_restore --clean --if-exists); without it, such objects make the restore fail.
    /// </summary>
    public static async Task ImportAsync(DatabaseUrl url, bool clean, Func<Stream, CancellationToken, Task> writeDump, Action<string> note, CancellationToken ct)
    {
        string psql = Tools.Find(Install, "psql");
        string restore = Tools.Find(Install, "pg_restore");
        if (await EnsureDatabaseAsync(psql, url, ct).ConfigureAwait(false))
        {
            note($"created {url.Describe()}");
        }
        var args = new List<string> { "--no-password", "--single-transaction", "--exit-on-error" };
        if (clean)
        {
            args.AddRange(["--clean", "--if-exists"]);
        }
        args.Add("--dbname=" + ConnInfo(url));
        await Import.PipeAsync(new CommandSpec(restore, args) { Environment = Env(url) }, writeDump, $"restoring into {url.Describe()} (in one transaction: nothing was restored{(clean ? "" : "; --clean replaces objects that exist already")})", ct).ConfigureAwait(false);
    }

    /// <summary>Creates the database if missing; true when it did.</summary>
    private static async Task<bool> EnsureDatabaseAsync(string psql, DatabaseUrl url, CancellationToken ct)
    {
        // \gexec runs the generated CREATE only when the database is missing; :'db' quotes the name as a literal.
        const string Script = """
            SELECT 'missing' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db');
            SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
            """;
        var spec = new CommandSpec(psql, ["--no-psqlrc", "--no-password", "--quiet", "--tuples-only", "--no-align", "--set=ON_ERROR_STOP=1", "--set=db=" + url.Database, "--dbname=" + ConnInfo(url, "postgres")])
        {
            Environment = Env(url),
        };
        var (status, stdout, stderr) = await ChildProcess.RunAsync(spec, Encoding.UTF8.GetBytes(Script + "\n"), ct).ConfigureAwait(false);
        if (status == 0)
        {
            return stdout.Contains("missing", StringComparison.Ordinal);
        }
        // No access to the maintenance database: fine if the target itself answers.
        var probe = new CommandSpec(psql, ["--no-psqlrc", "--no-password", "--quiet", "--command=SELECT 1", "--dbname=" + ConnInfo(url)]) { Environment = Env(url) };
        var (probeStatus, _, _) = await ChildProcess.RunAsync(probe, null, ct).ConfigureAwait(false);
        if (probeStatus == 0)
        {
            return false;
        }
        throw CommandFailedException.Exited("psql", status, $"while checking that {url.Describe()} exists (connected to the database postgres to create it if missing); nothing was restored", stderr);
    }

    /// <summary>libpq keyword/value connection string; no password (see <see cref="Env"/>).</summary>
    internal static string ConnInfo(DatabaseUrl url, string? database = null)
    {
        var parts = new List<string>();
        if (url.Host is { } h)
        {
            parts.Add("host=" + Quote(h));
        }
        if (url.Port is { } p)
        {
            parts.Add("port=" + p);
        }
        if (url.User is { } u)
        {
            parts.Add("user=" + Quote(u));
        }
        parts.Add("dbname=" + Quote(database ?? url.Database));
        foreach (var (k, v) in url.Query)
        {
            parts.Add(k + "=" + Quote(v));
        }
        return string.Join(' ', parts);
    }

    private static string Quote(string v) => "'" + v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    private static Dictionary<string, string?> Env(DatabaseUrl url) =>
        url.Password is { } pw ? new() { ["PGPASSWORD"] = pw } : [];
}
