using System.CommandLine;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;
using Strata.Thaws;

namespace Strata.Cli.Commands;

internal static class DumpCommand
{
    private static readonly Argument<string> SnapshotArg = new("snapshot") { Description = "snapshot id or 'latest'" };
    private static readonly Argument<string> PathArg = new("path") { Description = "absolute path of a file in the snapshot" };
    private static readonly ColdOptions Cold = new();

    public static Command Create()
    {
        var cmd = new Command("dump", "write one file of a snapshot to standard output");
        cmd.Arguments.Add(SnapshotArg);
        cmd.Arguments.Add(PathArg);
        Cold.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
            repo.RequireOwner("dump");
            SnapshotRef snap = await repo.FindSnapshotAsync(p.GetValue(SnapshotArg)!, ct);
            string path = p.GetValue(PathArg)!;
            Node node = await TreeOps.FindAsync(repo, snap.Snapshot, path, ct)
                ?? throw new UserInputException($"{path} is not in snapshot {snap.ShortId}");
            if (node.Kind != FileKind.Regular)
            {
                throw new UserInputException($"{path} in snapshot {snap.ShortId} is a {node.Kind.ToString().ToLowerInvariant()}, not a file");
            }
            ColdSettings settings = Cold.Read(p);
            StoreProperties props = repo.Store.Properties;
            ColdRestore? cold = null;
            if (props.HasColdTier && !props.ColdReadsDirectly)
            {
                // The plan and every message go to stderr: stdout is the file.
                cold = await ColdRestore.PrepareAsync(repo, snap.Snapshot, ColdRestoreRequest.ForDump(snap.Id, path), null, ct);
                if (cold.Needed.Any(n => cold.StateOf(n) is not (PackState.Ready or PackState.Missing)))
                {
                    var ui = new ColdUi(Console.Error, p.GetValue(GlobalOptions.Json), p.GetValue(GlobalOptions.Quiet), repo.Clock);
                    await ColdRead.PlanAndRequestAsync(repo, snap, cold, settings, ui, ct);
                    ColdWaitOutcome? outcome = null;
                    if (settings.Wait)
                    {
                        outcome = await cold.WaitAsync((_, _) => Task.CompletedTask, ColdWaitOptions.Default, ui.Progress, ct);
                    }
                    else
                    {
                        await cold.RefreshAsync(ct);
                    }
                    if (cold.Needed.Any(n => cold.StateOf(n) is not (PackState.Ready or PackState.Missing)))
                    {
                        Console.Error.WriteLine(ColdRead.HowToResume(cold, 1, node.Size, outcome, null, repo.Clock));
                        return RestoreCommand.WaitingForThaw;
                    }
                }
            }
            await using Stream stdout = Console.OpenStandardOutput();
            long written = 0;
            int extent = 0;
            foreach (var id in node.Content)
            {
                byte[] data = await repo.ReadBlobAsync(id, ct);
                if (node.Extents.Count > 0)
                {
                    // a sparse file: emit the holes as zeros
                    while (extent < node.Extents.Count && node.Extents[extent].Offset > written)
                    {
                        await WriteZerosAsync(stdout, node.Extents[extent].Offset - written, ct);
                        written = node.Extents[extent].Offset;
                    }
                }
                await stdout.WriteAsync(data, ct);
                written += data.Length;
                if (extent < node.Extents.Count && written >= node.Extents[extent].Offset + node.Extents[extent].Length)
                {
                    extent++;
                }
            }
            if (written < node.Size)
            {
                await WriteZerosAsync(stdout, node.Size - written, ct);
            }
            if (cold is not null)
            {
                await cold.CompleteAsync(ct);
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static async Task WriteZerosAsync(Stream s, long n, CancellationToken ct)
    {
        byte[] zeros = new byte[1 << 16];
        while (n > 0)
        {
            int k = (int)Math.Min(n, zeros.Length);
            await s.WriteAsync(zeros.AsMemory(0, k), ct);
            n -= k;
        }
    }
}
