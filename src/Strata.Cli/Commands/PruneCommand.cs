using System.CommandLine;
using System.Globalization;
using Strata.Cli.Output;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>`strata prune`: the plan of what is dead, what it costs, what compacting and purging would do. Changes nothing.</summary>
internal static class PruneCommand
{
    internal static readonly Option<double> MaxPayback = new("--max-payback") { Description = "a partly dead pack is worth compacting when compaction pays for itself within this many months", DefaultValueFactory = _ => 12, HelpName = "MONTHS" };
    private static readonly Option<bool> AllPacks = new("--all-packs") { Description = "list every pack, not only dead and partly dead ones" };

    public static Command Create()
    {
        var cmd = new Command("prune", "plan: live and dead bytes per pack and tier, what dead data costs, what compact and purge would do (changes nothing)");
        cmd.Options.Add(MaxPayback);
        cmd.Options.Add(AllPacks);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            var (repo, _) = await MaintenanceCommon.OpenAsync(p, "prune", exclusive: false, ct);
            await using var _repo = repo;
            PrunePlan plan = await MakePlanAsync(p, repo, ct);
            DeadShare.Save(p, repo, plan);
            if (p.GetValue(GlobalOptions.Json))
            {
                WriteJson(plan, p.GetValue(AllPacks));
            }
            else
            {
                Print(plan, p.GetValue(AllPacks));
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    public static async Task<PrunePlan> MakePlanAsync(ParseResult p, Repo repo, CancellationToken ct)
    {
        double payback = p.GetValue(MaxPayback);
        if (payback < 0 || double.IsNaN(payback))
        {
            throw new UserInputException($"--max-payback {payback}: expected a number of months, 0 or more");
        }
        return await PrunePlanner.PlanAsync(repo, MaintenanceCommon.PricingFor(p, repo), new PruneSettings(MaxPaybackMonths: payback), ct);
    }

    private static string Days(double d) => d.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Short(PackPlan p) => p.Name.Path.Length > 20 ? p.Name.Path[..(p.Name.Path.IndexOf('/') + 13)] : p.Name.Path;

    public static void Print(PrunePlan plan, bool allPacks)
    {
        Console.WriteLine($"Prune plan ({plan.Snapshots} snapshots; prices: {plan.Pricing.Provider}, cold {plan.Pricing.ColdClass} (minimum {plan.MinimumDaysCold} days), warm {plan.Pricing.WarmClass} (minimum {plan.MinimumDaysWarm} days)):");
        foreach (Tier tier in new[] { Tier.Cold, Tier.Warm })
        {
            long total = plan.TotalBytesIn(tier), deadIn = plan.DeadBytesIn(tier);
            double share = total == 0 ? 0 : 100.0 * deadIn / total;
            Console.WriteLine($"  {tier.ToString().ToLowerInvariant()} packs: {Format.Bytes(total)}, live {Format.Bytes(total - deadIn)}, dead {Format.Bytes(deadIn)} ({share:0.#}%), dead data costs {Usd(plan.DeadUsdPerMonthIn(tier))}/month");
        }
        Console.WriteLine($"  total:      dead {Format.Bytes(plan.DeadBytes)} of {Format.Bytes(plan.TotalBytes)} ({100 * plan.DeadShare:0.#}%), {Usd(plan.DeadUsdPerMonth)}/month");

        var dead = plan.Deletable.ToList();
        var freeNow = dead.Where(d => d.EarlyDeletionUsdNow == 0).ToList();
        Console.WriteLine();
        Console.WriteLine($"Wholly dead packs: {dead.Count} ({Format.Bytes(dead.Sum(d => d.Length))}); {freeNow.Count} can be deleted free now, {dead.Count - freeNow.Count} would bill an early-deletion fee of {Usd(dead.Sum(d => d.EarlyDeletionUsdNow))} if deleted now");
        if (dead.Count > 0)
        {
            Console.WriteLine($"  {"pack",-22} {"status",-12} {"size",10} {"age",8} {"dead/month",11} {"fee now",10}  free to delete");
            foreach (PackPlan d in dead.OrderBy(d => d.FreeToDeleteAt))
            {
                Console.WriteLine($"  {Short(d),-22} {Status(d),-12} {Format.Bytes(d.Length),10} {Days(d.AgeDays) + "d",8} {Usd(d.DeadUsdPerMonth),11} {Usd(d.EarlyDeletionUsdNow),10}  {FreeAt(d, plan.Now)}");
            }
        }
        var partly = plan.PartlyDead.OrderBy(p => p.PaybackMonths).ToList();
        Console.WriteLine();
        Console.WriteLine($"Partly dead packs: {partly.Count} ({Format.Bytes(partly.Sum(p => p.DeadBytes))} dead in {Format.Bytes(partly.Sum(p => p.Length))}); worth compacting: {partly.Count(p => p.WorthCompacting)}");
        if (partly.Count > 0)
        {
            Console.WriteLine($"  {"pack",-22} {"dead",12} {"share",6} {"saves/month",12} {"compact cost",13} {"payback",10}  early-deletion fee now");
            foreach (PackPlan p in partly)
            {
                string payback = p.PaybackMonths is { } m && !double.IsInfinity(m) ? $"{m:0.#} mo" : "never";
                Console.WriteLine($"  {Short(p),-22} {Format.Bytes(p.DeadBytes),12} {100 * p.DeadShare,5:0}% {Usd(p.DeadUsdPerMonth),12} {Usd(p.Compact?.TotalUsd ?? 0),13} {payback,10}  {Usd(p.EarlyDeletionUsdNow)}{(p.WorthCompacting ? "  <- worth it" : "")}");
            }
        }
        if (allPacks)
        {
            Console.WriteLine();
            Console.WriteLine("All packs:");
            foreach (PackPlan p in plan.Packs)
            {
                Console.WriteLine($"  {p.Name.Path} {Status(p)} {p.Kind?.ToString().ToLowerInvariant() ?? "?"} {p.Length} bytes, live {p.LiveBytes} ({p.LiveBlobs}/{p.Blobs} blobs), dead {p.DeadBytes}, age {Days(p.AgeDays)} days");
            }
        }
        foreach (string problem in plan.Problems)
        {
            Console.WriteLine($"warning: {problem}");
        }
        Console.WriteLine();
        Console.WriteLine("Nothing was changed. Next: 'strata compact' rewrites the packs worth compacting (it shows its cost first); "
            + "'strata purge' deletes wholly dead and superseded packs once they are free to delete (--accept-early-deletion-fee: sooner).");
    }

    private static string Status(PackPlan p) => p.Deletion switch
    {
        DeletionReason.Compact => "superseded",
        DeletionReason.Purge => "purging",
        _ => p.Status switch
        {
            PackStatus.WhollyDead => "dead",
            PackStatus.PartlyDead => "partly dead",
            PackStatus.Orphan => "orphan",
            PackStatus.Missing => "MISSING",
            _ => "live",
        },
    };

    private static string FreeAt(PackPlan p, DateTimeOffset now) =>
        p.EarlyDeletionUsdNow == 0 ? "now" : p.FreeToDeleteAt is { } t ? $"{t.ToLocalTime():yyyy-MM-dd} (in {Days((t - now).TotalDays)} days)" : "unknown";

    private static void WriteJson(PrunePlan plan, bool allPacks)
    {
        var packs = plan.Packs.Where(p => allPacks || p.Status != PackStatus.Live).Select(p => new Dictionary<string, object?>
        {
            ["pack"] = p.Name.Path,
            ["kind"] = p.Kind?.ToString().ToLowerInvariant(),
            ["tier"] = p.Tier.ToString().ToLowerInvariant(),
            ["status"] = Status(p),
            ["bytes"] = p.Length,
            ["blobs"] = p.Blobs,
            ["live_blobs"] = p.LiveBlobs,
            ["live_bytes"] = p.LiveBytes,
            ["dead_bytes"] = p.DeadBytes,
            ["age_days"] = Math.Round(p.AgeDays, 3),
            ["dead_usd_per_month"] = (double)EstimateCommand.Usd(p.DeadUsdPerMonth),
            ["early_deletion_usd_now"] = (double)EstimateCommand.Usd(p.EarlyDeletionUsdNow),
            ["free_to_delete_at"] = p.FreeToDeleteAt,
            ["compact_usd"] = p.Compact is { } c ? (double)EstimateCommand.Usd(c.TotalUsd) : null,
            ["payback_months"] = p.PaybackMonths is { } m && !double.IsInfinity(m) ? Math.Round(m, 3) : null,
            ["worth_compacting"] = p.WorthCompacting,
        }).ToList();
        Format.JsonLine(new()
        {
            ["message_type"] = "prune_plan",
            ["time"] = plan.Now,
            ["snapshots"] = plan.Snapshots,
            ["provider"] = plan.Pricing.Provider,
            ["cold_class"] = plan.Pricing.ColdClass,
            ["warm_class"] = plan.Pricing.WarmClass,
            ["total_bytes"] = plan.TotalBytes,
            ["dead_bytes"] = plan.DeadBytes,
            ["dead_share"] = Math.Round(plan.DeadShare, 6),
            ["cold_total_bytes"] = plan.TotalBytesIn(Tier.Cold),
            ["cold_dead_bytes"] = plan.DeadBytesIn(Tier.Cold),
            ["warm_total_bytes"] = plan.TotalBytesIn(Tier.Warm),
            ["warm_dead_bytes"] = plan.DeadBytesIn(Tier.Warm),
            ["dead_usd_per_month"] = (double)EstimateCommand.Usd(plan.DeadUsdPerMonth),
            ["wholly_dead_packs"] = plan.Deletable.Count(),
            ["partly_dead_packs"] = plan.PartlyDead.Count(),
            ["worth_compacting"] = plan.WorthCompacting.Count(),
            ["early_deletion_usd_now"] = (double)EstimateCommand.Usd(plan.Deletable.Sum(p => p.EarlyDeletionUsdNow)),
            ["problems"] = plan.Problems.ToList(),
            ["packs"] = packs,
        });
    }
}
