using System.CommandLine;
using Strata.Cli.Output;
using Strata.Costs;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>`strata compact`: rewrites the live blobs of partly dead packs into new packs; deletes nothing (purge does).</summary>
internal static class CompactCommand
{
    private static readonly Option<string[]> Packs = new("--pack") { Description = "compact this pack (id or unique id prefix; repeatable) instead of the ones the plan finds worth it", HelpName = "ID" };
    private static readonly Option<bool> All = new("--all") { Description = "compact every partly dead pack, whatever its payback time" };
    private static readonly Option<bool> DryRun = new("--dry-run", "-n") { Description = "show what would be compacted and what it costs; change nothing" };
    private static readonly ColdOptions Cold = new();

    public static Command Create()
    {
        var cmd = new Command("compact", "rewrite the live data of partly dead packs into new packs (thawing cold ones first, priced), and record the old packs for purge");
        cmd.Options.Add(Packs);
        cmd.Options.Add(All);
        cmd.Options.Add(DryRun);
        cmd.Options.Add(PruneCommand.MaxPayback);
        Cold.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        ColdSettings cold = Cold.Read(p);
        var (repo, held) = await MaintenanceCommon.OpenAsync(p, "compact", exclusive: true, ct);
        await using var _repo = repo;
        await using var _held = held;
        PrunePlan plan = await PruneCommand.MakePlanAsync(p, repo, ct);
        List<PackPlan> chosen = Choose(plan, p.GetValue(Packs) ?? [], p.GetValue(All));
        if (chosen.Count == 0)
        {
            Console.WriteLine($"nothing to compact: {plan.PartlyDead.Count()} partly dead packs, none {(p.GetValue(All) ? "" : "worth compacting (see strata prune; --all compacts them anyway)")}");
            return ExitCodes.Ok;
        }

        var coldPacks = chosen.Where(c => c.Tier == Tier.Cold).ToList();
        var warmPacks = chosen.Where(c => c.Tier == Tier.Warm).ToList();
        Console.WriteLine($"Compaction plan: {N(chosen.Count, "pack")} ({N(coldPacks.Count, "cold pack")}, {N(warmPacks.Count, "warm tree pack")}), "
            + $"{Format.Bytes(chosen.Sum(c => c.LiveBytes))} live to copy, {Format.Bytes(chosen.Sum(c => c.DeadBytes))} dead to drop, saving {Usd(chosen.Sum(c => c.DeadUsdPerMonth))}/month once purged");
        if (coldPacks.Count > 0)
        {
            var read = new ColdReadRequest(plan.Pricing.Provider, plan.Pricing.ColdClass, coldPacks.Sum(c => c.Length), coldPacks.Count, cold.Days, cold.InRegion);
            var estimates = CostModel.EstimateCompact(plan.Pricing.Prices, read, coldPacks.Count, coldPacks.Sum(c => c.LiveBytes), coldPacks.Select(c => new AgedObject(c.Length, c.AgeDays)));
            Console.WriteLine($"  {"tier",-10} {"ready in",-20} {"thaw",10} {"rewrite",10} {"early deletion",15} {"total",10}");
            foreach (CompactEstimate e in estimates)
            {
                Console.WriteLine($"  {e.Tier.ToString().ToLowerInvariant(),-10} {Range(e.Thaw),-20} {Usd(e.Thaw.TotalUsd),10} {Usd(e.RewriteUsd),10} {Usd(e.EarlyDeletionUsd),15} {Usd(e.TotalUsd),10}");
            }
            Console.WriteLine("  (the early-deletion fee is billed only if purge deletes the old packs before their minimum storage duration)");
        }
        if (p.GetValue(DryRun))
        {
            foreach (PackPlan c in chosen)
            {
                Console.WriteLine($"  would compact {c.Name.Path}: {Format.Bytes(c.LiveBytes)} live, {Format.Bytes(c.DeadBytes)} dead");
            }
            return ExitCodes.Ok;
        }

        var listed = new List<ObjectInfo>();
        foreach (PackPlan c in coldPacks)
        {
            listed.Add(new ObjectInfo(c.Name, c.Length));
        }
        if (!await MaintenanceCommon.ThawAsync(repo, listed, cold, "compact", ct))
        {
            return ExitCodes.WaitingForThaw;
        }
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        CompactResult r = await Compactor.RunAsync(repo, plan, chosen, quiet ? null : m => Console.Error.WriteLine(m), ct);
        foreach (var (pack, reason) in r.Skipped)
        {
            Console.Error.WriteLine($"warning: {pack.Name.Path} was not compacted: {reason}");
        }
        Console.WriteLine($"compacted {N(r.Rewritten.Count, "pack")}: copied {r.BlobsCopied} live blobs ({Format.Bytes(r.BytesCopied)}) into {N(r.NewPacks.Count, "new pack")}"
            + (r.DeletionRecord is { } d ? $"; deletion record deletions/{d[..12]} names the old packs, which 'strata purge' deletes once they are free to delete" : ""));
        if (p.GetValue(GlobalOptions.Json))
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "compact_summary",
                ["packs_rewritten"] = r.Rewritten.Count,
                ["packs_skipped"] = r.Skipped.Count,
                ["new_packs"] = r.NewPacks.Select(n => n.Id.ToString()).ToList(),
                ["blobs_copied"] = r.BlobsCopied,
                ["bytes_copied"] = r.BytesCopied,
                ["index_segment"] = r.IndexSegment,
                ["deletion_record"] = r.DeletionRecord,
            });
        }
        return r.Skipped.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }

    private static List<PackPlan> Choose(PrunePlan plan, string[] ids, bool all)
    {
        if (ids.Length == 0)
        {
            return all ? [.. plan.PartlyDead] : [.. plan.WorthCompacting];
        }
        var chosen = new List<PackPlan>();
        foreach (string id in ids)
        {
            var matches = plan.Packs.Where(x => x.Id.ToString().StartsWith(id, StringComparison.Ordinal)).ToList();
            if (matches.Count != 1)
            {
                throw new UserInputException(matches.Count == 0 ? $"--pack {id}: no pack with that id in the repository" : $"--pack {id}: ambiguous, it matches {matches.Count} packs");
            }
            if (matches[0].Status != PackStatus.PartlyDead)
            {
                throw new UserInputException($"--pack {id}: {matches[0].Name.Path} is {matches[0].Status switch { PackStatus.Live => "fully live", PackStatus.WhollyDead => "wholly dead (purge deletes it; nothing to copy)", _ => matches[0].Status.ToString().ToLowerInvariant() }}, not partly dead");
            }
            chosen.Add(matches[0]);
        }
        return chosen;
    }
}
