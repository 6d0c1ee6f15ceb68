using System.CommandLine;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Crypto;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Cli.Commands;

internal static class FindCommand
{
    private static readonly Argument<string[]> Patterns = new("pattern") { Arity = ArgumentArity.OneOrMore, Description = "glob on names ('*.jpg') or absolute paths ('/home/*/notes.txt')" };

    public static Command Create()
    {
        var cmd = new Command("find", "show which snapshots contain matching paths (warm metadata only)");
        cmd.Arguments.Add(Patterns);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
            repo.RequireOwner("find");
            var matcher = new ExcludeMatcher(p.GetValue(Patterns) ?? []);
            bool json = p.GetValue(GlobalOptions.Json);
            int total = 0;
            // Identical subtrees are searched once: results per tree id are remembered as relative paths.
            var memo = new Dictionary<BlobId, List<(string Rel, Node Node)>>();
            foreach (SnapshotRef s in await repo.ListSnapshotsAsync(ct))
            {
                var hits = await SearchAsync(repo, BlobId.Parse(s.Snapshot.Tree), "", matcher, memo, ct);
                if (hits.Count == 0)
                {
                    continue;
                }
                total += hits.Count;
                if (!json)
                {
                    Console.WriteLine($"snapshot {s.ShortId} of [{string.Join(" ", s.Snapshot.Paths)}] at {s.Snapshot.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss}:");
                }
                foreach (var (path, n) in hits)
                {
                    if (json)
                    {
                        Format.JsonLine(new() { ["snapshot"] = s.Id, ["path"] = path, ["type"] = n.Kind.ToString().ToLowerInvariant(), ["size"] = n.Size, ["mtime"] = DateTimeOffset.FromUnixTimeMilliseconds(n.MTimeNs / 1_000_000) });
                    }
                    else
                    {
                        Console.WriteLine($"  {path}  {n.Size} bytes  {Format.Time(n.MTimeNs)}");
                    }
                }
            }
            if (total == 0 && !json)
            {
                Console.Error.WriteLine("no matches");
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static async Task<List<(string, Node)>> SearchAsync(Repo repo, BlobId tree, string prefix, ExcludeMatcher m, Dictionary<BlobId, List<(string, Node)>> memo, CancellationToken ct)
    {
        // Memoised relative results only make sense for name patterns; absolute ones depend on the prefix, so key on both.
        var result = new List<(string, Node)>();
        Tree t = await repo.LoadTreeAsync(tree, ct);
        foreach (Node n in t.Nodes)
        {
            string path = prefix + "/" + n.DisplayName;
            if (m.IsExcluded(path))
            {
                result.Add((path, n));
            }
            if (n.Subtree is { } sub)
            {
                result.AddRange(await SearchAsync(repo, sub, path, m, memo, ct));
            }
        }
        return result;
    }
}
