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
            // "stdin" means "/stdin": the name a stream backup prints
            if (!path.StartsWith('/'))
            {
                path = "/" + path;
            }
            Node node = await FindFileAsync(repo, snap, path, ct);
            ColdRestore? cold = null;
            if (await MakeReadableAsync(p, repo, snap, path, node, Cold.Read(p), ct) is { } ready)
            {
                cold = ready.Cold;
            }
            else
            {
                return RestoreCommand.WaitingForThaw;
            }
            await using (Stream stdout = Console.OpenStandardOutput())
            {
                await WriteContentAsync(repo, node, stdout, ct);
            }
            if (cold is not null)
            {
                await cold.CompleteAsync(ct);
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    /// <summary>The regular file at <paramref name="path"/> in the snapshot, or a usage error saying what is there instead.</summary>
    internal static async Task<Node> FindFileAsync(Repo repo, SnapshotRef snap, string path, CancellationToken ct)
    {
        Node node = await TreeOps.FindAsync(repo, snap.Snapshot, path, ct)
            ?? throw new UserInputException($"{path} is not in snapshot {snap.ShortId}");
        if (node.Kind != FileKind.Regular)
        {
            throw new UserInputException($"{path} in snapshot {snap.ShortId} is a {node.Kind.ToString().ToLowerInvariant()}, not a file");
        }
        return node;
    }

    internal sealed record Readable(ColdRestore? Cold);

    /// <summary>
    /// Makes one file's packs readable before any byte is written: nothing to do on a warm or directly readable
    /// store; on a cold tier, the plan, price, consent and thaw requests (messages on stderr), and with --wait the
    /// wait. Null when packs are still thawing (how to continue is printed): the caller writes nothing. Otherwise
    /// complete the returned cold job (if any) once the file is written.
    /// </summary>
    internal static async Task<Readable?> MakeReadableAsync(ParseResult p, Repo repo, SnapshotRef snap, string path, Node node, ColdSettings settings, CancellationToken ct)
    {
        StoreProperties props = repo.Store.Properties;
        if (!props.HasColdTier || props.ColdReadsDirectly)
        {
            return new Readable(null);
        }
        // The plan and every message go to stderr: stdout is the file.
        ColdRestore cold = await ColdRestore.PrepareAsync(repo, snap.Snapshot, ColdRestoreRequest.ForDump(snap.Id, path), null, ct);
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
                return null;
            }
        }
        return new Readable(cold);
    }

    /// <summary>Writes a file's content (holes of a sparse file as zeros), reading the next blob while writing one.</summary>
    internal static async Task WriteContentAsync(Repo repo, Node node, Stream output, CancellationToken ct)
    {
        long written = 0;
        int extent = 0;
        Task<byte[]>? next = node.Content.Count > 0 ? repo.ReadBlobAsync(node.Content[0], ct) : null;
        for (int i = 0; i < node.Content.Count; i++)
        {
            byte[] data = await next!;
            next = i + 1 < node.Content.Count ? repo.ReadBlobAsync(node.Content[i + 1], ct) : null;
            if (node.Extents.Count > 0)
            {
                // a sparse file: emit the holes as zeros
                while (extent < node.Extents.Count && node.Extents[extent].Offset > written)
                {
                    await WriteZerosAsync(output, node.Extents[extent].Offset - written, ct);
                    written = node.Extents[extent].Offset;
                }
            }
            await output.WriteAsync(data, ct);
            written += data.Length;
            if (extent < node.Extents.Count && written >= node.Extents[extent].Offset + node.Extents[extent].Length)
            {
                extent++;
            }
        }
        if (written < node.Size)
        {
            await WriteZerosAsync(output, node.Size - written, ct);
        }
        await output.FlushAsync(ct);
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
