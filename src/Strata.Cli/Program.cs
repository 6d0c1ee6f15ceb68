using System.CommandLine;
using Strata.Cli;
using Strata.Cli.Commands;

var root = new RootCommand("strata: encrypted, deduplicated backups with a cold tier that is planned and priced");
GlobalOptions.AddTo(root);
root.Subcommands.Add(InitCommand.Create());
root.Subcommands.Add(KeyCommand.Create());
root.Subcommands.Add(BackupCommand.Create());
root.Subcommands.Add(WormCommand.Create());
root.Subcommands.Add(VerifyCommand.Create());
root.Subcommands.Add(RestoreCommand.Create());
root.Subcommands.Add(DumpCommand.Create());
root.Subcommands.Add(ThawsCommand.Create());
root.Subcommands.Add(SnapshotsCommand.Create());
root.Subcommands.Add(LsCommand.Create());
root.Subcommands.Add(FindCommand.Create());
root.Subcommands.Add(DiffCommand.Create());
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(EstimateCommand.Create());
root.Subcommands.Add(StatsCommand.Create());
root.Subcommands.Add(ForgetCommand.Create());
root.Subcommands.Add(UnlockCommand.Create());
root.Subcommands.Add(CopyCommand.Create());
root.Subcommands.Add(MirrorCommand.Create());
root.Subcommands.Add(S3Command.Create());
root.Subcommands.Add(PruneCommand.Create());
root.Subcommands.Add(CompactCommand.Create());
root.Subcommands.Add(PurgeCommand.Create());
root.Subcommands.Add(RepairCommand.Create());
root.Subcommands.Add(RecoverCommand.Create());
#if STRATA_SERVER
root.Subcommands.Add(ServeCommand.Create());
#else
Command serve = ServeForwarder.Create();
root.Subcommands.Add(serve);
#endif
root.Subcommands.Add(BucketCommand.Create());
root.Subcommands.Add(SyncCommand.Create());

ParseResult parsed = root.Parse(args);
#if !STRATA_SERVER
if (parsed.CommandResult.Command == serve)
{
    return ServeForwarder.Exec(args); // before the parse errors: strata-server parses serve's options itself
}
#endif
if (parsed.Errors.Count > 0)
{
    foreach (var e in parsed.Errors)
    {
        Console.Error.WriteLine($"strata: {e.Message}");
    }
    Console.Error.WriteLine("run 'strata --help' for usage");
    return ExitCodes.Usage;
}
// On SIGTERM/Ctrl+C System.CommandLine cancels the command and, by default, ends the process 2 s later (exit 143/130).
// The server's graceful shutdown waits up to 30 s for requests in flight and a mirror run to stop, so it gets longer;
// every other command keeps the short grace (a killed backup leaves a valid repository).
var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
#if STRATA_SERVER
if (parsed.CommandResult.Command.Name == "serve")
{
    invocation.ProcessTerminationTimeout = TimeSpan.FromSeconds(40);
}
#endif
int code = await parsed.InvokeAsync(invocation);
if (Environment.GetEnvironmentVariable("STRATA_DEBUG_MEMORY") == "1")
{
    var gc = GC.GetGCMemoryInfo();
    using var self = System.Diagnostics.Process.GetCurrentProcess();
    Console.Error.WriteLine($"memory: peak working set {self.PeakWorkingSet64 >> 20} MiB, GC heap {gc.HeapSizeBytes >> 20} MiB, committed {gc.TotalCommittedBytes >> 20} MiB, peak-ish promoted {gc.PromotedBytes >> 20} MiB, total allocated {GC.GetTotalAllocatedBytes() >> 20} MiB, gen0 collections {GC.CollectionCount(0)}, gen2 {GC.CollectionCount(2)}");
}
return code;
