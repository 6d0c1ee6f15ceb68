using System.CommandLine;
using Strata.Repository;
using Strata.Sources;

namespace Strata.Cli.Commands;

/// <summary>
/// backup's stream sources: --stdin, --stdin-from-command, --postgres, --mysql (one at a time, instead of paths),
/// and --stdin-filename. Read checks everything it can before the repository is opened or a program is started.
/// </summary>
internal sealed class StreamOptions
{
    private readonly Option<bool> _stdin = new("--stdin") { Description = "back up standard input as one file, /NAME (see --stdin-filename)" };
    private readonly Option<string?> _command = new("--stdin-from-command") { Description = "run CMD with /bin/sh -c and back up its output as one file, streamed; if CMD fails, no snapshot is saved", HelpName = "CMD" };
    private readonly Option<string?> _fileName = new("--stdin-filename") { Description = "the file's name in the snapshot (default: stdin; DATABASE.pgdump or DATABASE.sql for a database)", HelpName = "NAME" };
    private readonly Option<string?> _postgres = new("--postgres") { Description = "dump a PostgreSQL database with pg_dump (custom format, streamed): postgresql://USER:PASSWORD@HOST:PORT/DATABASE", HelpName = "URL" };
    private readonly Option<string?> _mysql = new("--mysql") { Description = "dump a MySQL or MariaDB database with mariadb-dump or mysqldump (--single-transaction, streamed): mysql://USER:PASSWORD@HOST:PORT/DATABASE", HelpName = "URL" };

    public void AddTo(Command cmd)
    {
        foreach (Option o in new Option[] { _stdin, _command, _fileName, _postgres, _mysql })
        {
            cmd.Options.Add(o);
        }
    }

    /// <summary>The stream to back up, or null for a backup of paths. Usage errors only; nothing is started.</summary>
    public StreamRequest? Read(ParseResult p, int pathCount)
    {
        var given = new List<string>();
        if (p.GetValue(_stdin))
        {
            given.Add("--stdin");
        }
        string? command = p.GetValue(_command);
        if (command is not null)
        {
            given.Add("--stdin-from-command");
        }
        string? pg = p.GetValue(_postgres);
        if (pg is not null)
        {
            given.Add("--postgres");
        }
        string? my = p.GetValue(_mysql);
        if (my is not null)
        {
            given.Add("--mysql");
        }
        string? name = p.GetValue(_fileName);
        if (given.Count == 0)
        {
            if (name is not null)
            {
                throw new UserInputException("--stdin-filename names the file of a stream backup: use it with --stdin, --stdin-from-command, --postgres or --mysql");
            }
            return null;
        }
        if (given.Count > 1)
        {
            throw new UserInputException($"{string.Join(" and ", given)} cannot be combined: one backup reads one stream");
        }
        if (pathCount > 0)
        {
            throw new UserInputException($"{given[0]} backs up a stream, not files: leave out the paths (or back them up in a separate run)");
        }
        if (name is not null)
        {
            StreamInput.CheckFileName(name, "--stdin-filename");
        }
        if (command is not null && string.IsNullOrWhiteSpace(command))
        {
            throw new UserInputException("--stdin-from-command: the command is empty");
        }
        if (pg is not null)
        {
            return new StreamRequest(DatabaseUrl.Parse(pg, DatabaseKind.Postgres, "--postgres"), null, name, "--postgres");
        }
        if (my is not null)
        {
            return new StreamRequest(Mysql.Check(DatabaseUrl.Parse(my, DatabaseKind.Mysql, "--mysql"), "--mysql"), null, name, "--mysql");
        }
        return new StreamRequest(null, command, name, given[0]);
    }
}

/// <summary>One of: a database, a shell command, or (neither) standard input.</summary>
internal sealed record StreamRequest(DatabaseUrl? Database, string? Command, string? FileName, string Option)
{
    public bool ReadsStdin => Database is null && Command is null;

    /// <summary>"pg_dump of database shop on db1:5432", for messages.</summary>
    public string Describe(StreamInput input) => input.Info.Kind switch
    {
        "postgres" or "mysql" => $"{input.Info.Tool} of {Database!.Describe()}",
        "command" => "the command's output",
        _ => "standard input",
    };

    /// <summary>Starts the producer (after the repository is open, so a wrong passphrase starts nothing).</summary>
    public async Task<StreamInput> StartAsync(CancellationToken ct)
    {
        if (Database is { Kind: DatabaseKind.Postgres } pg)
        {
            return await Postgres.StartDumpAsync(pg, FileName, ct);
        }
        if (Database is { Kind: DatabaseKind.Mysql } my)
        {
            return await Mysql.StartDumpAsync(my, FileName, ct);
        }
        if (Command is not null)
        {
            return CommandInput.Shell(Command, FileName ?? "stdin");
        }
        return new StdinInput(FileName ?? "stdin");
    }
}
