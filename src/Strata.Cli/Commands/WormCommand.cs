using System.CommandLine;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Cli.Commands;

/// <summary>`strata worm report`: the changes found in worm sources, from the snapshots that recorded them; and the warning block backup prints.</summary>
internal static class WormCommand
{
    private static readonly Argument<string?> PathArg = new("path") { Arity = ArgumentArity.ZeroOrOne, Description = "only changes at or below this absolute path" };
    private static readonly Option<string?> SnapshotOpt = new("--snapshot") { Description = "only the changes recorded by this snapshot" };
    private static readonly Option<bool> All = new("--all") { Description = "include metadata-only changes (content identical)" };

    /// <summary>How many paths the warning block lists before pointing at `strata worm report`.</summary>
    private const int ListedInWarning = 50;

    public static Command Create()
    {
        var cmd = new Command("worm", "worm sources: files that changed although they never should");
        var report = new Command("report", "list the changed, deleted and replaced files of worm sources, per snapshot that found them (warm metadata only)");
        report.Arguments.Add(PathArg);
        report.Options.Add(SnapshotOpt);
        report.Options.Add(All);
        report.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner("worm report");
            var list = await repo.ListSnapshotsAsync(ct);
            if (p.GetValue(SnapshotOpt) is { } spec)
            {
                string id = (await repo.FindSnapshotAsync(spec, ct)).Id;
                list = list.Where(s => s.Id == id).ToList();
            }
            string? under = p.GetValue(PathArg)?.TrimEnd('/');
            bool all = p.GetValue(All);
            bool json = p.GetValue(GlobalOptions.Json);
            int violations = 0, shown = 0;
            foreach (SnapshotRef s in list.Where(s => s.Snapshot.WormChanges is { Count: > 0 }))
            {
                var changes = s.Snapshot.WormChanges!.Where(c => (all || c.IsViolation)
                    && (under is null || c.Path == under || c.Path.StartsWith(under + "/", StringComparison.Ordinal))).ToList();
                if (changes.Count == 0)
                {
                    continue;
                }
                violations += changes.Count(c => c.IsViolation);
                if (!json)
                {
                    Console.WriteLine($"snapshot {s.ShortId} {s.Snapshot.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss} {s.Snapshot.Host} {string.Join(" ", s.Snapshot.Paths)} (compared with {s.Snapshot.Parent?[..8] ?? "?"}):");
                }
                foreach (WormChange c in changes)
                {
                    shown++;
                    if (json)
                    {
                        Format.JsonLine(ToJson(c, s.Id, s.Snapshot.Parent));
                    }
                    else
                    {
                        Console.WriteLine($"  {c.Change,-9} {c.Path}  ({c.Describe(b => Format.Bytes(b))})");
                    }
                }
            }
            if (!json)
            {
                Console.WriteLine(shown == 0 ? "no changes recorded in worm sources" : $"{violations} files changed, deleted or replaced; earlier versions are in the snapshots compared with");
            }
            return ExitCodes.Ok;
        }));
        cmd.Subcommands.Add(report);
        return cmd;
    }

    public static Dictionary<string, object?> ToJson(WormChange c, string? snapshotId, string? comparedWith) => new()
    {
        ["message_type"] = "worm_change",
        ["snapshot_id"] = snapshotId,
        ["compared_with"] = comparedWith,
        ["path"] = c.Path,
        ["change"] = c.Change,
        ["violation"] = c.IsViolation,
        ["size_before"] = c.SizeBefore,
        ["size_after"] = c.SizeAfter,
        ["mtime_before"] = c.MTimeBefore,
        ["mtime_after"] = c.MTimeAfter,
        ["content_changed"] = c.ContentChanged,
    };

    /// <summary>
    /// The loud part of a worm backup: a block on stderr listing each changed path and what changed. Metadata-only
    /// changes get a short note. With --json the changes also go to stdout as "worm_change" lines.
    /// </summary>
    public static void PrintBackupWarning(string snapshotId, Snapshot s, bool json)
    {
        var changes = s.WormChanges ?? [];
        if (json)
        {
            foreach (WormChange c in changes)
            {
                Format.JsonLine(ToJson(c, snapshotId, s.Parent));
            }
        }
        var violations = changes.Where(c => c.IsViolation).ToList();
        var metadata = changes.Where(c => !c.IsViolation).ToList();
        string parent = s.Parent?[..8] ?? "the previous snapshot";
        if (violations.Count > 0)
        {
            PrintBlock(
                $"WORM VIOLATION: {violations.Count} file(s) of this write-once source changed since snapshot {parent}",
                "Files under policy worm must never change: this may be bit rot, tampering or a mistake.",
                violations,
                [
                    $"The earlier versions are kept in snapshot {parent} and every earlier one: restore with",
                    $"  strata restore {parent} --target DIR --include PATH",
                    $"Recorded in snapshot {snapshotId[..8]}; list again with: strata worm report --snapshot {snapshotId[..8]}",
                ]);
        }
        if (metadata.Count > 0)
        {
            Console.Error.WriteLine($"note: policy worm: {metadata.Count} file(s) changed metadata only (content identical): {string.Join(", ", metadata.Take(5).Select(m => m.Path))}{(metadata.Count > 5 ? ", ..." : "")}");
        }
    }

    /// <summary>A framed block on stderr: a headline, an explanation, one line per change (at most <see cref="ListedInWarning"/>), and a footer.</summary>
    public static void PrintBlock(string headline, string explanation, IReadOnlyList<WormChange> changes, IEnumerable<string> footer)
    {
        string bar = new('!', 78);
        var e = Console.Error;
        e.WriteLine(bar);
        e.WriteLine($"!! {headline}");
        e.WriteLine($"!! {explanation}");
        foreach (WormChange c in changes.Take(ListedInWarning))
        {
            e.WriteLine($"!!   {c.Change,-9} {c.Path}");
            e.WriteLine($"!!             {c.Describe(b => Format.Bytes(b))}");
        }
        if (changes.Count > ListedInWarning)
        {
            e.WriteLine($"!!   ... and {changes.Count - ListedInWarning} more");
        }
        foreach (string line in footer)
        {
            e.WriteLine($"!! {line}");
        }
        e.WriteLine(bar);
    }
}
