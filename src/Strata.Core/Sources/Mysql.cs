using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Sources;

/// <summary>
/// MySQL and MariaDB through their own tools: mariadb-dump (or mysqldump) for a backup, the mariadb (or mysql)
/// client for a restore. The password travels in MYSQL_PWD, in the child's environment only.
/// </summary>
public static class Mysql
{
    private const string Install = "the MariaDB or MySQL client (Debian: apt-get install mariadb-client)";

    /// <summary>Checks what the tools cannot take, before anything starts: unknown query parameters, a name starting with '-'.</summary>
    public static DatabaseUrl Check(DatabaseUrl url, string option)
    {
        foreach (var (k, _) in url.Query)
        {
            if (k != "socket")
            {
                throw new UserInputException($"{option} {url.Display}: the query parameter '{k}' is not supported (the only one is socket=PATH)");
            }
        }
        if (url.Database.StartsWith('-'))
        {
            throw new UserInputException($"{option} {url.Display}: the database name '{url.Database}' starts with '-', which the MySQL tools would take for an option");
        }
        return url;
    }

    /// <summary>
    /// Starts mariadb-dump (else mysqldump) with --single-transaction (a consistent view of InnoDB tables without
    /// locking them), streaming SQL to stdout. The dump has no CREATE DATABASE, so it restores under any name.
    /// </summary>
    public static async Task<StreamInput> StartDumpAsync(DatabaseUrl url, string? fileName, CancellationToken ct)
    {
        string tool = Tools.Find(Install, "mariadb-dump", "mysqldump");
        string version = await Tools.VersionAsync(tool, ct).ConfigureAwait(false);
        var args = new List<string> { "--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob", "--no-tablespaces", "--default-character-set=utf8mb4" };
        args.AddRange(ConnectionArgs(url));
        args.Add(url.Database);
        var info = new SourceInfo
        {
            Kind = "mysql",
            FileName = fileName ?? url.Database + ".sql",
            Database = url.Database,
            DatabaseHost = url.Host,
            DatabasePort = url.Port,
            DatabaseUser = url.User,
            Tool = Path.GetFileName(tool),
            ToolVersion = version,
            Format = "sql",
        };
        return CommandInput.Start(new CommandSpec(tool, args) { Environment = Env(url) }, info, $"dumping {url.Describe()}");
    }

    /// <summary>
    /// Creates the database if missing, then pipes the dump into the client. The dump drops and recreates each of
    /// its tables (DROP TABLE IF EXISTS); other tables of the target database are left alone.
    /// </summary>
    public static async Task ImportAsync(DatabaseUrl url, Func<Stream, CancellationToken, Task> writeDump, Action<string> note, CancellationToken ct)
    {
        string client = Tools.Find(Install, "mariadb", "mysql");
        string quoted = "`" + url.Database.Replace("`", "``", StringComparison.Ordinal) + "`";
        var create = new CommandSpec(client, [.. ConnectionArgs(url), "--batch", "--skip-column-names",
            $"--execute=SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '{url.Database.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal)}'; CREATE DATABASE IF NOT EXISTS {quoted};"])
        {
            Environment = Env(url),
        };
        var (status, stdout, stderr) = await ChildProcess.RunAsync(create, null, ct).ConfigureAwait(false);
        if (status != 0)
        {
            throw CommandFailedException.Exited(Path.GetFileName(client), status, $"while checking that {url.Describe()} exists (to create it if missing); nothing was restored", stderr);
        }
        if (stdout.Trim() == "0")
        {
            note($"created {url.Describe()}");
        }
        var spec = new CommandSpec(client, [.. ConnectionArgs(url), "--binary-mode", "--default-character-set=utf8mb4", "--database=" + url.Database]) { Environment = Env(url) };
        await Import.PipeAsync(spec, writeDump, $"restoring into {url.Describe()}", ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Host, port, user, socket. A host other than a bare "localhost" means TCP (the client would otherwise take
    /// "localhost" with a port for its Unix socket and ignore the port).
    /// </summary>
    private static List<string> ConnectionArgs(DatabaseUrl url)
    {
        var a = new List<string>();
        string? socket = url.Query.Where(q => q.Key == "socket").Select(q => q.Value).LastOrDefault();
        if (url.Host is { } h)
        {
            a.Add("--host=" + h);
        }
        if (url.Port is { } p)
        {
            a.Add("--port=" + p);
        }
        if (url.User is { } u)
        {
            a.Add("--user=" + u);
        }
        if (socket is not null)
        {
            a.Add("--socket=" + socket);
        }
        else if (url.Host is not null && !(url.Host == "localhost" && url.Port is null))
        {
            a.Add("--protocol=TCP");
        }
        return a;
    }

    private static Dictionary<string, string?> Env(DatabaseUrl url) =>
        url.Password is { } pw ? new() { ["MYSQL_PWD"] = pw } : [];
}
