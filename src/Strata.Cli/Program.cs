using System.CommandLine;
using Strata.Cli;
using Strata.Cli.Commands;

var root = new RootCommand("strata: encrypted, deduplicated backups with a cold tier that is planned and priced");
GlobalOptions.AddTo(root);
root.Subcommands.Add(InitCommand.Create());
root.Subcommands.Add(KeyCommand.Create());
root.Subcommands.Add(BackupCommand.Create());
root.Subcommands.Add(RestoreCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
root.Subcommands.Add(SnapshotsCommand.Create());
root.Subcommands.Add(LsCommand.Create());
root.Subcommands.Add(FindCommand.Create());
root.Subcommands.Add(DiffCommand.Create());
root.Subcommands.Add(CheckCommand.Create());

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors)
    {
        Console.Error.WriteLine($"strata: {e.Message}");
    }
    Console.Error.WriteLine("run 'strata --help' for usage");
    return ExitCodes.Usage;
}
return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
