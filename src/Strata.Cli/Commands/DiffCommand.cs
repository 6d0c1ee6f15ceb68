using System.CommandLine;
using Strata.Cli.Output;
using Strata.Crypto;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Cli.Commands;

internal static class DiffCommand
{
    private static readonly Argument<string> A = new("snapshot1");
    private static readonly Argument<string> B = new("snapshot2");

    public static Command Create()
    {
        var cmd = new Command("diff", "show what changed between two snapshots: + added, - removed, M modified, U metadata only");
        cmd.Arguments.Add(A);
        cmd.Arguments.Add(B);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
            repo.RequireOwner("diff");
            SnapshotRef a = await repo.FindSnapshotAsync(p.GetValue(A)!, ct);
            SnapshotRef b = await repo.FindSnapshotAsync(p.GetValue(B)!, ct);
            bool json = p.GetValue(GlobalOptions.Json);
            var counts = new Dictionary<TreeOps.Change, int>();
            await TreeOps.DiffAsync(repo, BlobId.Parse(a.Snapshot.Tree), BlobId.Parse(b.Snapshot.Tree), "", (change, path, node) =>
            {
                counts[change] = counts.GetValueOrDefault(change) + 1;
                string mark = change switch { TreeOps.Change.Added => "+", TreeOps.Change.Removed => "-", TreeOps.Change.Modified => "M", _ => "U" };
                string suffix = node.Kind == Platform.FileKind.Directory ? "/" : "";
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "change", ["path"] = path + suffix, ["modifier"] = mark });
                }
                else
                {
                    Console.WriteLine($"{mark,-4} {path}{suffix}");
                }
            }, ct);
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "statistics", ["source_snapshot"] = a.Id, ["target_snapshot"] = b.Id, ["added"] = counts.GetValueOrDefault(TreeOps.Change.Added), ["removed"] = counts.GetValueOrDefault(TreeOps.Change.Removed), ["modified"] = counts.GetValueOrDefault(TreeOps.Change.Modified), ["metadata"] = counts.GetValueOrDefault(TreeOps.Change.Metadata) });
            }
            else
            {
                Console.WriteLine();
                Console.WriteLine($"comparing snapshot {a.ShortId} to {b.ShortId}: {counts.GetValueOrDefault(TreeOps.Change.Added)} added, {counts.GetValueOrDefault(TreeOps.Change.Removed)} removed, {counts.GetValueOrDefault(TreeOps.Change.Modified)} modified, {counts.GetValueOrDefault(TreeOps.Change.Metadata)} metadata only");
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
