using System.CommandLine;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Sources;

namespace Strata.Cli.Commands;

/// <summary>
/// restore's database targets: --to-postgres URL and --to-mysql URL stream a snapshot's dump file from the
/// repository straight into pg_restore or the mariadb/mysql client (no temporary file), creating the database when
/// it is missing. The file is the stream snapshot's /NAME, or the snapshot's only path.
/// </summary>
internal sealed class DatabaseRestore
{
    private readonly Option<string?> _toPostgres = new("--to-postgres") { Description = "restore a pg_dump snapshot into this PostgreSQL database with pg_restore (created if missing): postgresql://USER:PASSWORD@HOST:PORT/DATABASE", HelpName = "URL" };
    private readonly Option<string?> _toMysql = new("--to-mysql") { Description = "restore a MySQL/MariaDB dump snapshot into this database with the mariadb/mysql client (created if missing): mysql://USER:PASSWORD@HOST:PORT/DATABASE", HelpName = "URL" };
    private readonly Option<bool> _clean = new("--clean") { Description = "with --to-postgres: drop the dump's objects that exist in the target before recreating them (pg_restore --clean --if-exists)" };

    public void AddTo(Command cmd)
    {
        foreach (Option o in new Option[] { _toPostgres, _toMysql, _clean })
        {
            cmd.Options.Add(o);
        }
    }

    /// <summary>The target database, or null for a restore into a folder. Usage errors only.</summary>
    public DatabaseUrl? Read(ParseResult p, string? target, bool resume)
    {
        string? pg = p.GetValue(_toPostgres);
        string? my = p.GetValue(_toMysql);
        bool clean = p.GetValue(_clean);
        if (pg is null && my is null)
        {
            if (clean)
            {
                throw new UserInputException("--clean is for a restore into a database: use it with --to-postgres");
            }
            return null;
        }
        if (pg is not null && my is not null)
        {
            throw new UserInputException("--to-postgres and --to-mysql cannot be combined: a restore goes into one database");
        }
        string option = pg is not null ? "--to-postgres" : "--to-mysql";
        if (target is not null || resume)
        {
            throw new UserInputException($"{option} restores into a database: leave out {(resume ? "--resume" : "--target")}");
        }
        if (clean && my is not null)
        {
            throw new UserInputException("--clean is for --to-postgres; a MySQL dump already replaces each table it holds (DROP TABLE IF EXISTS)");
        }
        return pg is not null
            ? DatabaseUrl.Parse(pg, DatabaseKind.Postgres, option)
            : Mysql.Check(DatabaseUrl.Parse(my!, DatabaseKind.Mysql, option), option);
    }

    public async Task<int> RunAsync(ParseResult p, DatabaseUrl url, string snapshotSpec, ColdSettings cold, CancellationToken ct)
    {
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        string option = url.Kind == DatabaseKind.Postgres ? "--to-postgres" : "--to-mysql";
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        repo.RequireOwner("restore");
        SnapshotRef snap = await repo.FindSnapshotAsync(snapshotSpec, ct);
        string path = DumpPath(snap, option);
        CheckKind(snap, url, option);
        Node node = await DumpCommand.FindFileAsync(repo, snap, path, ct);
        if (await DumpCommand.MakeReadableAsync(p, repo, snap, path, node, cold, ct) is not { } readable)
        {
            return RestoreCommand.WaitingForThaw;
        }
        void Note(string text)
        {
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "note", ["note"] = text });
            }
            else if (!quiet)
            {
                Console.WriteLine(text);
            }
        }
        Task Write(Stream s, CancellationToken c) => DumpCommand.WriteContentAsync(repo, node, s, c);
        if (url.Kind == DatabaseKind.Postgres)
        {
            await Postgres.ImportAsync(url, p.GetValue(_clean), Write, Note, ct);
        }
        else
        {
            await Mysql.ImportAsync(url, Write, Note, ct);
        }
        if (readable.Cold is not null)
        {
            await readable.Cold.CompleteAsync(ct);
        }
        if (json)
        {
            Format.JsonLine(new() { ["message_type"] = "summary", ["snapshot_id"] = snap.Id, ["path"] = path, ["bytes_restored"] = node.Size, ["database"] = url.Database, ["target"] = url.Display });
        }
        else if (!quiet)
        {
            Console.WriteLine($"restored {path} of snapshot {snap.ShortId} ({Format.Bytes(node.Size)}) into {url.Describe()}");
        }
        return ExitCodes.Ok;
    }

    /// <summary>The dump file: a stream snapshot's /NAME, else the snapshot's only path.</summary>
    private static string DumpPath(SnapshotRef snap, string option)
    {
        if (snap.Snapshot.Source is { Location: { } location })
        {
            throw new UserInputException($"snapshot {snap.ShortId} is a copy of {location}, not a database dump; restore it with 'strata restore {snap.ShortId} --target DIR'");
        }
        if (snap.Snapshot.Source is { } source)
        {
            return "/" + source.FileName;
        }
        if (snap.Snapshot.Paths.Count == 1)
        {
            return snap.Snapshot.Paths[0];
        }
        throw new UserInputException($"snapshot {snap.ShortId} holds {snap.Snapshot.Paths.Count} paths, not one dump file; {option} restores a snapshot made with --postgres, --mysql, --stdin or --stdin-from-command (or of a single dump file)");
    }

    /// <summary>A PostgreSQL dump cannot go into MySQL and the other way round; a stdin or command stream may be either.</summary>
    private static void CheckKind(SnapshotRef snap, DatabaseUrl url, string option)
    {
        string? kind = snap.Snapshot.Source?.Kind;
        if (kind == "postgres" && url.Kind != DatabaseKind.Postgres)
        {
            throw new UserInputException($"snapshot {snap.ShortId} holds a PostgreSQL dump ({snap.Snapshot.Source!.FileName}); restore it with --to-postgres, not {option}");
        }
        if (kind == "mysql" && url.Kind != DatabaseKind.Mysql)
        {
            throw new UserInputException($"snapshot {snap.ShortId} holds a MySQL/MariaDB dump ({snap.Snapshot.Source!.FileName}); restore it with --to-mysql, not {option}");
        }
    }
}
