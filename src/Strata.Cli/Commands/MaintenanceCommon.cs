using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Costs;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;
using Strata.Thaws;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>Pieces the maintenance commands (prune, compact, purge, repair, recover) share.</summary>
internal static class MaintenanceCommon
{
    public static Pricing PricingFor(ParseResult p, Repo repo, Option<string?>? pricesOption = null)
    {
        PriceTable prices;
        try
        {
            prices = PriceTable.Load(pricesOption is null ? null : p.GetValue(pricesOption));
        }
        catch (PriceTableException e)
        {
            throw new UserInputException(e.Message);
        }
        var where = EstimateCommand.Where(prices, repo.Store.Properties, repo.Config);
        return new Pricing(prices, where.Provider, where.ColdClass, where.WarmClass);
    }

    /// <summary>
    /// Opens the repository with full catalogs (maintenance needs every copy of every blob). Owner key only. With
    /// <paramref name="exclusive"/>, takes the exclusive lock first (waiting for running backups, up to --lock-wait), so
    /// the index and snapshots it then reads cannot change under it; the caller disposes the lock.
    /// </summary>
    public static async Task<(Repo Repo, Locks.RepoLock? Lock)> OpenAsync(ParseResult p, string what, bool exclusive, CancellationToken ct)
    {
        Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        Locks.RepoLock? held = null;
        try
        {
            repo.RequireOwner(what);
            if (exclusive)
            {
                held = await Locking.AcquireAsync(p, repo, Locks.LockMode.Exclusive, what, null, ct);
            }
            await repo.LoadIndexAsync(ct, keepCatalogs: true);
            return (repo, held);
        }
        catch
        {
            if (held is not null)
            {
                await held.DisposeAsync();
            }
            await repo.DisposeAsync();
            throw;
        }
    }

    /// <summary>One byte of a pack the store calls frozen: some S3-compatible servers keep the class but read it anyway.</summary>
    private static async Task<bool> ReadsDirectlyAsync(Repo repo, ObjectInfo pack, CancellationToken ct)
    {
        if (repo.Store.Properties.SimulatedCold)
        {
            return false;
        }
        try
        {
            await repo.Store.ReadAsync(pack.Name, 0, new byte[1], ct);
            return true;
        }
        catch (ObjectFrozenException)
        {
            return false;
        }
    }

    /// <summary>
    /// Makes cold packs readable: prices the thaw of the frozen ones for every tier, enforces --max-cost, asks for consent
    /// (--yes, or y on a terminal) and requests them; with --wait polls until every pack is readable. Returns true when
    /// every pack is readable now, false when the caller should stop and be run again later (exit 5).
    /// </summary>
    public static async Task<bool> ThawAsync(Repo repo, IReadOnlyList<ObjectInfo> packs, ColdSettings s, string what, CancellationToken ct)
    {
        if (packs.Count == 0 || !repo.Store.Properties.HasColdTier || repo.Store.Properties.ColdReadsDirectly)
        {
            return true; // no thaw on this store: its archive class is read directly (radosgw), or it has none
        }
        var frozen = new List<ObjectInfo>();
        var thawing = new List<ObjectInfo>();
        foreach (ObjectInfo o in packs)
        {
            ThawStatus st = await repo.Store.GetThawStatusAsync(o.Name, ct);
            if (st.State == ThawState.Frozen)
            {
                frozen.Add(o);
            }
            else if (st.State == ThawState.Thawing)
            {
                thawing.Add(o);
            }
        }
        StoreProperties props = repo.Store.Properties;
        if (frozen.Count > 0 && await ReadsDirectlyAsync(repo, frozen[0], ct))
        {
            return true; // the archive class answers reads without a thaw (radosgw, or a class that needs none)
        }
        if (frozen.Count > 0)
        {
            PriceTable prices;
            try
            {
                prices = PriceTable.Load(null);
            }
            catch (PriceTableException e)
            {
                throw new UserInputException($"cannot price the thaw, so nothing was requested: {e.Message}");
            }
            var where = EstimateCommand.Where(prices, props, repo.Config);
            var estimates = CostModel.EstimateColdRead(prices, new ColdReadRequest(where.Provider, where.ColdClass, frozen.Sum(o => o.Length), frozen.Count, s.Days, s.InRegion));
            Console.Error.WriteLine($"{what} needs {N(frozen.Count, "cold pack")} thawed ({Output.Format.Bytes(frozen.Sum(o => o.Length))}) from {where.ColdClass}{(props.SimulatedCold ? " (a local simulation: nothing is billed)" : "")}:");
            Console.Error.WriteLine($"  {"tier",-10} {"ready in",-20} {"total",10}");
            foreach (TierEstimate e in estimates)
            {
                Console.Error.WriteLine($"  {e.Tier.ToString().ToLowerInvariant(),-10} {Range(e),-20} {Usd(e.TotalUsd),10}");
            }
            TierEstimate chosen = ColdRead.ChooseTier(estimates, s, where.ColdClass);
            string tierName = chosen.Tier.ToString().ToLowerInvariant();
            ColdRead.RequireConsent(chosen, s, frozen.Count,
                $"{what} needs {N(frozen.Count, "pack")} thawed (about {Usd(chosen.TotalUsd)} at {tierName}); nothing was requested. Run it again with --yes (and --max-cost USD to cap the cost), or on a terminal to be asked");
            await ThawSubmitter.SubmitAsync(repo.Store, frozen.Select(o => o.Name).ToList(), new ThawRequest(chosen.Tier, s.Days),
                new ThawSubmitOptions(Concurrency: props.Connections), repo.Clock, null, ct);
            Console.Error.WriteLine($"requested {N(frozen.Count, "thaw")} at {tierName} (about {Usd(chosen.TotalUsd)})");
        }
        if (frozen.Count == 0 && thawing.Count == 0)
        {
            return true;
        }
        if (!s.Wait)
        {
            Console.Error.WriteLine($"{N(frozen.Count + thawing.Count, "pack")} are thawing; run the same command again once they are ready (or add --wait)");
            return false;
        }
        TimeSpan poll = TimeSpan.FromSeconds(1);
        var pending = frozen.Concat(thawing).ToList();
        while (pending.Count > 0)
        {
            await Task.Delay(poll, ct);
            var still = new List<ObjectInfo>();
            DateTimeOffset? eta = null;
            foreach (ObjectInfo o in pending)
            {
                ThawStatus st = await repo.Store.GetThawStatusAsync(o.Name, ct);
                if (!st.CanRead)
                {
                    still.Add(o);
                    eta = st.ReadyAt is { } r && (eta is null || r > eta) ? r : eta;
                }
            }
            if (still.Count > 0 && (still.Count < pending.Count || poll >= TimeSpan.FromMinutes(1)))
            {
                Console.Error.WriteLine($"waiting: {packs.Count - still.Count} of {packs.Count} packs readable, the rest ready {When(eta, repo.Clock.GetUtcNow())}");
            }
            pending = still;
            poll = TimeSpan.FromTicks(Math.Min(poll.Ticks * 2, TimeSpan.FromMinutes(10).Ticks));
            if (eta is { } e && e - repo.Clock.GetUtcNow() is { } left && left > TimeSpan.Zero && left < poll)
            {
                poll = left + TimeSpan.FromMilliseconds(100);
            }
        }
        return true;
    }
}

/// <summary>
/// The dead share the last plan found, kept in the local cache (&lt;cache&gt;/&lt;repo-id&gt;/dead-share.json) so that
/// `strata snapshots` and `strata backup` can say "prune would free X" without walking every tree. Written by prune,
/// forget, compact and purge on this machine. Dead bytes change only through those commands (a backup adds only used
/// data), so the record stays right until one of them runs elsewhere.
/// </summary>
internal static class DeadShare
{
    /// <summary>Percent of the repository's pack bytes that are dead before the prompt appears: $STRATA_DEAD_SHARE_WARNING, default 20.</summary>
    public static double Threshold
    {
        get
        {
            string? v = Environment.GetEnvironmentVariable("STRATA_DEAD_SHARE_WARNING");
            return v is not null && double.TryParse(v.TrimEnd('%'), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) && d >= 0 ? d : 20;
        }
    }

    private static string FileOf(ParseResult p, Repo repo) => Path.Combine(GlobalOptions.CacheRoot(p), repo.Config.Id, "dead-share.json");

    public static void Save(ParseResult p, Repo repo, PrunePlan plan)
    {
        try
        {
            string file = FileOf(p, repo);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var rec = new DeadShareRecord(plan.Now, plan.DeadBytes, plan.TotalBytes, (double)plan.DeadUsdPerMonth);
            File.WriteAllBytes(file, JsonSerializer.SerializeToUtf8Bytes(rec, DeadShareJson.Default.DeadShareRecord));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a cache: losing it only loses the prompt
        }
    }

    /// <summary>The prompt line, or null when the share is under the threshold or unknown.</summary>
    public static string? Line(ParseResult p, Repo repo)
    {
        try
        {
            string file = FileOf(p, repo);
            if (!File.Exists(file))
            {
                return null;
            }
            DeadShareRecord? r = JsonSerializer.Deserialize(File.ReadAllBytes(file), DeadShareJson.Default.DeadShareRecord);
            if (r is null || r.TotalBytes <= 0)
            {
                return null;
            }
            double pct = 100.0 * r.DeadBytes / r.TotalBytes;
            return pct < Threshold ? null
                : $"note: {pct:0.#}% of the repository ({Output.Format.Bytes(r.DeadBytes)}) is used by no snapshot and costs about {Usd((decimal)r.DeadUsdPerMonth)} a month (as of {r.ComputedAt.ToLocalTime():yyyy-MM-dd HH:mm}); run 'strata prune' to see what compacting and purging would save";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }
}

internal sealed record DeadShareRecord(DateTimeOffset ComputedAt, long DeadBytes, long TotalBytes, double DeadUsdPerMonth);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DeadShareRecord))]
internal sealed partial class DeadShareJson : JsonSerializerContext;
