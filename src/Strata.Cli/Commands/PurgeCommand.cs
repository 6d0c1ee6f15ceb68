using System.CommandLine;
using Strata.Cli.Output;
using Strata.Maintenance;
using Strata.Repository;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>`strata purge`: deletes wholly dead and superseded packs once their minimum storage duration has passed.</summary>
internal static class PurgeCommand
{
    private static readonly Option<bool> AcceptFee = new("--accept-early-deletion-fee") { Description = "also delete packs younger than their class's minimum storage duration, paying the fee shown" };
    private static readonly Option<bool> DryRun = new("--dry-run", "-n") { Description = "show what would be deleted; delete nothing" };

    public static Command Create()
    {
        var cmd = new Command("purge", "delete packs no snapshot uses (wholly dead, superseded by compact), once they are free to delete; owner/admin only");
        cmd.Options.Add(AcceptFee);
        cmd.Options.Add(DryRun);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        var (repo, held) = await MaintenanceCommon.OpenAsync(p, "purge", exclusive: true, ct);
        await using var _repo = repo;
        await using var _held = held;
        PrunePlan plan = await PruneCommand.MakePlanAsync(p, repo, ct);
        bool accept = p.GetValue(AcceptFee);
        var deletable = plan.Deletable.ToList();
        var free = deletable.Where(d => d.EarlyDeletionUsdNow == 0).ToList();
        var early = deletable.Where(d => d.EarlyDeletionUsdNow > 0).ToList();
        Console.WriteLine($"Purge: {N(deletable.Count, "pack")} no snapshot uses ({Format.Bytes(deletable.Sum(d => d.Length))}): {free.Count} free to delete now, "
            + $"{early.Count} younger than the minimum storage duration (deleting them now bills {Usd(early.Sum(d => d.EarlyDeletionUsdNow))})");
        if (early.Count > 0 && !accept)
        {
            DateTimeOffset? next = early.Min(e => e.FreeToDeleteAt);
            Console.WriteLine($"  kept for now: {N(early.Count, "pack")}; the first becomes free to delete {(next is { } n ? n.ToLocalTime().ToString("yyyy-MM-dd") : "at an unknown date")} (--accept-early-deletion-fee deletes them now)");
        }
        if (early.Count > 0 && accept)
        {
            Console.WriteLine($"  early-deletion fee accepted: {Usd(early.Sum(d => d.EarlyDeletionUsdNow))} for {N(early.Count, "pack")}");
        }
        if (p.GetValue(DryRun))
        {
            foreach (PackPlan d in deletable.Where(d => accept || d.EarlyDeletionUsdNow == 0))
            {
                Console.WriteLine($"  would delete {d.Name.Path} ({Format.Bytes(d.Length)}{(d.EarlyDeletionUsdNow > 0 ? $", fee {Usd(d.EarlyDeletionUsdNow)}" : "")})");
            }
            return ExitCodes.Ok;
        }
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        PurgeResult r = await Purger.RunAsync(repo, plan, accept, quiet ? null : m => Console.Error.WriteLine(m), ct);
        Console.WriteLine($"deleted {N(r.Deleted.Count, "pack")} ({Format.Bytes(r.BytesDeleted)}){(r.FeesUsd > 0 ? $", early-deletion fees {Usd(r.FeesUsd)}" : "")}; "
            + $"{N(r.Waiting.Count, "pack")} wait for their minimum storage duration; index rewritten ({N(r.SegmentsRemoved, "old segment")} replaced)");
        if (p.GetValue(GlobalOptions.Json))
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "purge_summary",
                ["deleted"] = r.Deleted.Select(d => d.Name.Path).ToList(),
                ["bytes_deleted"] = r.BytesDeleted,
                ["waiting"] = r.Waiting.Select(d => d.Name.Path).ToList(),
                ["early_deletion_usd"] = (double)EstimateCommand.Usd(r.FeesUsd),
                ["index_segment"] = r.IndexSegment,
                ["segments_removed"] = r.SegmentsRemoved,
                ["deletion_records_removed"] = r.RecordsRemoved,
            });
        }
        PrunePlan after = await PrunePlanner.PlanAsync(repo, plan.Pricing, new PruneSettings(), ct).ConfigureAwait(false);
        DeadShare.Save(p, repo, after);
        return ExitCodes.Ok;
    }
}
