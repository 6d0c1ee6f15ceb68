using System.CommandLine;
using Strata.Cli.Output;
using Strata.Costs;
using Strata.Maintenance;
using Strata.Repository;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>`strata recover`: rebuilds snapshots, trees, catalogs and index from the cold packs' band records, priced first.</summary>
internal static class RecoverCommand
{
    private static readonly Option<bool> DryRun = new("--dry-run", "-n") { Description = "show what would be read and what it costs; change nothing" };
    private static readonly ColdOptions Cold = new();

    public static Command Create()
    {
        var cmd = new Command("recover", "rebuild the warm layer (snapshots, trees, catalogs, index) from the cold packs alone; thaws band records first (priced)");
        cmd.Options.Add(DryRun);
        Cold.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        ColdSettings cold = Cold.Read(p);
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        repo.RequireOwner("recover");
        await using var held = await Locking.AcquireAsync(p, repo, Locks.LockMode.Exclusive, "recover", null, ct);
        RecoveryPlan plan = await Recovery.PlanAsync(repo, ct);
        Console.WriteLine($"Recovery plan: {N(plan.DataPacks, "cold pack")} in the store; {N(plan.BandPacksKnown, "band record")} known from warm catalogs, {N(plan.PacksWithoutCatalog, "pack")} without a catalog (read to find out what they hold); "
            + $"{N(plan.ToRead.Count, "pack")} to read ({Format.Bytes(plan.BytesToRead)}), {plan.NotReadable.Count} of them need a thaw");
        if (plan.NotReadable.Count > 0)
        {
            PriceTable prices = PriceTable.Load(null);
            var where = EstimateCommand.Where(prices, repo.Store.Properties, repo.Config);
            foreach (TierEstimate e in CostModel.EstimateRecover(prices, where.Provider, where.ColdClass, plan.NotReadable.Sum(o => o.Length), plan.NotReadable.Count, cold.Days, cold.InRegion))
            {
                Console.WriteLine($"  {e.Tier.ToString().ToLowerInvariant(),-10} {Range(e),-20} {Usd(e.TotalUsd),10}");
            }
        }
        if (p.GetValue(DryRun))
        {
            return ExitCodes.Ok;
        }
        if (!await MaintenanceCommon.ThawAsync(repo, plan.NotReadable, cold, "recover", ct))
        {
            return ExitCodes.WaitingForThaw;
        }
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        RecoveryResult r = await Recovery.RunAsync(repo, quiet ? null : m => Console.Error.WriteLine(m), ct);
        foreach (string d in r.Damaged)
        {
            Console.Error.WriteLine($"error: {d}");
        }
        Console.WriteLine($"recovered {N(r.SnapshotsWritten, "snapshot")} ({r.SnapshotsPresent} were present), {r.TreesWritten} trees into {N(r.TreePacks, "tree pack")}, "
            + $"{N(r.CatalogsRewritten, "catalog")} rewritten; new index segment {r.IndexSegment?[..12] ?? "(none)"}. Run 'strata check' next.");
        return r.Damaged.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }
}
