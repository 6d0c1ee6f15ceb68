using Strata.Costs;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>Which price table, provider and classes price a repository's objects.</summary>
public sealed record Pricing(PriceTable Prices, string Provider, string ColdClass, string WarmClass)
{
    public string ClassOf(Tier tier) => tier == Tier.Cold ? ColdClass : WarmClass;
}

/// <summary>What the plan says about one pack.</summary>
public enum PackStatus
{
    /// <summary>Every blob is used by a snapshot.</summary>
    Live,
    /// <summary>Some blobs are used, some are not: a compaction candidate.</summary>
    PartlyDead,
    /// <summary>No snapshot uses any of its blobs (or another pack holds every one it has): purge deletes it.</summary>
    WhollyDead,
    /// <summary>In the store with no catalog and in no index: an upload an interrupted run never finished.</summary>
    Orphan,
    /// <summary>The index names it but the store does not have it.</summary>
    Missing,
}

/// <summary>
/// One pack in the plan. Bytes are stored (sealed) bytes. <see cref="LiveBytes"/> counts the blobs a snapshot uses and
/// for which this pack is the copy the index reads; duplicates elsewhere count as dead.
/// </summary>
public sealed record PackPlan(
    BlobId Id,
    PackKind? Kind,
    ObjectName Name,
    long Length,
    int Blobs,
    int LiveBlobs,
    long LiveBytes,
    long DeadBytes,
    PackStatus Status,
    DeletionReason? Deletion,
    DateTimeOffset? Written,
    double AgeDays,
    decimal DeadUsdPerMonth,
    decimal EarlyDeletionUsdNow,
    DateTimeOffset? FreeToDeleteAt,
    CompactEstimate? Compact,
    double? PaybackMonths,
    bool WorthCompacting)
{
    public Tier Tier => Name.Tier;
    public bool Deletable => Status is PackStatus.WhollyDead or PackStatus.Orphan;
    public double DeadShare => Length == 0 ? 0 : (double)DeadBytes / Length;
}

/// <summary>The prune plan: nothing is changed by making it.</summary>
public sealed record PrunePlan(
    DateTimeOffset Now,
    int Snapshots,
    Pricing Pricing,
    int MinimumDaysCold,
    int MinimumDaysWarm,
    IReadOnlyList<PackPlan> Packs,
    IReadOnlyList<string> Problems,
    LiveSet Live)
{
    public long TotalBytes => Packs.Where(p => p.Status != PackStatus.Missing).Sum(p => p.Length);
    public long DeadBytes => Packs.Where(p => p.Status != PackStatus.Missing).Sum(p => p.DeadBytes);
    public double DeadShare => TotalBytes == 0 ? 0 : (double)DeadBytes / TotalBytes;
    public decimal DeadUsdPerMonth => Packs.Sum(p => p.DeadUsdPerMonth);
    public IEnumerable<PackPlan> Deletable => Packs.Where(p => p.Deletable);
    public IEnumerable<PackPlan> PartlyDead => Packs.Where(p => p.Status == PackStatus.PartlyDead);
    public IEnumerable<PackPlan> WorthCompacting => Packs.Where(p => p.WorthCompacting);
    public long DeadBytesIn(Tier tier) => Packs.Where(p => p.Status != PackStatus.Missing && p.Tier == tier).Sum(p => p.DeadBytes);
    public long TotalBytesIn(Tier tier) => Packs.Where(p => p.Status != PackStatus.Missing && p.Tier == tier).Sum(p => p.Length);
    public decimal DeadUsdPerMonthIn(Tier tier) => Packs.Where(p => p.Tier == tier).Sum(p => p.DeadUsdPerMonth);
}

/// <summary>Settings of the plan.</summary>
/// <param name="MaxPaybackMonths">A partly dead pack is worth compacting when its compaction pays for itself within this many months.</param>
/// <param name="OrphanMinimumAge">Orphan packs younger than this may be uploads still under way; they are left alone.</param>
/// <param name="ThawDays">Days a thawed copy is kept while compacting (priced).</param>
public sealed record PruneSettings(double MaxPaybackMonths = 12, TimeSpan? OrphanMinimumAge = null, int ThawDays = 1, bool InRegion = false)
{
    public TimeSpan OrphanAge => OrphanMinimumAge ?? TimeSpan.FromHours(1);
}

/// <summary>The blobs snapshots use, found by walking every snapshot's trees (warm reads only).</summary>
/// <param name="Blobs">Data and tree blobs some snapshot uses.</param>
/// <param name="BandPacks">Band packs named by a snapshot.</param>
/// <param name="RootTrees">Root trees of snapshots that name no band pack ("unchanged since" runs): the band holding them stays.</param>
/// <param name="Missing">Used blobs the index does not know, with where they were found.</param>
public sealed record LiveSet(HashSet<BlobId> Blobs, HashSet<BlobId> BandPacks, HashSet<BlobId> RootTrees, IReadOnlyList<string> Missing);

public static class Liveness
{
    public static async Task<LiveSet> ComputeAsync(Repo repo, IReadOnlyList<SnapshotRef> snapshots, CancellationToken ct)
    {
        var blobs = new HashSet<BlobId>();
        var bands = new HashSet<BlobId>();
        var roots = new HashSet<BlobId>();
        var missing = new List<string>();
        foreach (SnapshotRef s in snapshots)
        {
            if (s.Snapshot.BandPack is { } band && BlobId.TryParse(band, out BlobId b))
            {
                bands.Add(b);
            }
            else if (BlobId.TryParse(s.Snapshot.Tree, out BlobId root))
            {
                roots.Add(root);
            }
            await WalkAsync(repo, BlobId.Parse(s.Snapshot.Tree), s, "", blobs, missing, ct).ConfigureAwait(false);
        }
        return new LiveSet(blobs, bands, roots, missing);
    }

    private static async Task WalkAsync(Repo repo, BlobId tree, SnapshotRef s, string prefix, HashSet<BlobId> blobs, List<string> missing, CancellationToken ct)
    {
        if (!blobs.Add(tree))
        {
            return;
        }
        if (!repo.Index.Contains(tree))
        {
            missing.Add($"tree {tree.Short} ({(prefix.Length == 0 ? "/" : prefix)}) of snapshot {s.ShortId} is not in the index");
            return;
        }
        Tree t = await repo.LoadTreeAsync(tree, ct).ConfigureAwait(false);
        foreach (Node n in t.Nodes)
        {
            foreach (BlobId c in n.Content)
            {
                if (blobs.Add(c) && !repo.Index.Contains(c))
                {
                    missing.Add($"data blob {c.Short} of {prefix}/{n.DisplayName} (snapshot {s.ShortId}) is not in the index");
                }
            }
            if (n.Subtree is { } sub)
            {
                await WalkAsync(repo, sub, s, prefix + "/" + n.DisplayName, blobs, missing, ct).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// Makes the prune plan from warm data only: snapshots and their trees, the index, catalogs and the store's listing
/// (sizes and upload times). Per pack: live and dead bytes, what the dead bytes cost per month, the early-deletion fee of
/// deleting it now and the date that fee reaches zero, and for partly dead packs what compacting costs against what it
/// saves (a payback time). The repository must be opened with LoadIndexAsync(keepCatalogs: true).
/// </summary>
public static class PrunePlanner
{
    public static async Task<PrunePlan> PlanAsync(Repo repo, Pricing pricing, PruneSettings settings, CancellationToken ct)
    {
        DateTimeOffset now = repo.Clock.GetUtcNow();
        var snapshots = await repo.ListSnapshotsAsync(ct).ConfigureAwait(false);
        LiveSet live = await Liveness.ComputeAsync(repo, snapshots, ct).ConfigureAwait(false);
        var problems = new List<string>(live.Missing);

        var listed = new Dictionary<BlobId, ObjectInfo>();
        foreach (ObjectKind kind in new[] { ObjectKind.Data, ObjectKind.Tree })
        {
            await foreach (ObjectInfo o in repo.Store.ListAsync(kind, ct).ConfigureAwait(false))
            {
                if (BlobId.TryParse(o.Name.Name, out BlobId id))
                {
                    listed[id] = o;
                }
            }
        }
        var catalogs = new HashSet<BlobId>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Catalogs, ct).ConfigureAwait(false))
        {
            if (BlobId.TryParse(o.Name.Name, out BlobId id))
            {
                catalogs.Add(id);
            }
        }
        var deletion = new Dictionary<BlobId, DeletionReason>();
        foreach (var d in repo.Deletions)
        {
            foreach (string p in d.Record.Packs)
            {
                if (BlobId.TryParse(p, out BlobId id))
                {
                    deletion[id] = deletion.TryGetValue(id, out var r) && r == DeletionReason.Purge ? r : d.Record.Reason;
                }
            }
        }

        // Every pack with a catalog: the index's own, plus catalogs of packs the index leaves out (a purge under way).
        var packs = new Dictionary<BlobId, IndexSegment.PackEntries>(repo.PackCatalogs);
        foreach (BlobId id in catalogs)
        {
            if (!packs.ContainsKey(id) && listed.TryGetValue(id, out ObjectInfo? packInfo))
            {
                var name = new ObjectName(ObjectKind.Catalogs, id.ToString());
                byte[] tail = await repo.ReadWholeAsync(name, ct).ConfigureAwait(false);
                var (trailer, entries) = PackCodec.ParseTail(tail, repo.Keys.IndexKey, name.Path);
                packs[id] = new IndexSegment.PackEntries(id, trailer.Kind, packInfo.Length, entries);
            }
        }

        int minCold = pricing.Prices.Class(pricing.Provider, pricing.ColdClass).MinimumDays;
        int minWarm = pricing.Prices.Class(pricing.Provider, pricing.WarmClass).MinimumDays;
        var result = new List<PackPlan>();
        foreach (var p in packs.Values)
        {
            ObjectName name = new(p.Kind == PackKind.Tree ? ObjectKind.Tree : ObjectKind.Data, p.Id.ToString());
            listed.TryGetValue(p.Id, out ObjectInfo? info);
            int liveBlobs = 0;
            long liveBytes = 0, storedBlobs = 0;
            bool bandLive = p.Kind == PackKind.Band && (live.BandPacks.Contains(p.Id) || p.Entries.Any(e => live.RootTrees.Contains(e.Id)));
            foreach (CatalogEntry e in p.Entries)
            {
                storedBlobs += e.StoredLength;
                bool isLive = p.Kind == PackKind.Band
                    ? bandLive
                    : Compactor.IsLiveHere(repo, live, p.Id, e.Id);
                if (isLive)
                {
                    liveBlobs++;
                    liveBytes += e.StoredLength;
                }
            }
            long length = info?.Length ?? p.Length;
            PackStatus status = info is null ? PackStatus.Missing
                : liveBlobs == 0 ? PackStatus.WhollyDead
                : liveBlobs == p.Entries.Count ? PackStatus.Live
                : PackStatus.PartlyDead;
            // A wholly dead pack is dead to its last byte (catalog and trailer too); a live one's overhead is live.
            long deadBytes = status == PackStatus.WhollyDead ? length : status == PackStatus.Missing ? 0 : storedBlobs - liveBytes;
            result.Add(Price(name, p.Kind, length, p.Entries.Count, liveBlobs, length - deadBytes, deadBytes, status,
                deletion.TryGetValue(p.Id, out var why) ? why : null, info?.LastModified, now, pricing, settings));
        }
        foreach (var (id, info) in listed)
        {
            if (packs.ContainsKey(id) || catalogs.Contains(id))
            {
                continue;
            }
            // A pack an unfinished purge was deleting (its catalog may be gone already) is dead whatever its age.
            bool purging = deletion.TryGetValue(id, out var reason) && reason == DeletionReason.Purge;
            bool old = purging || (info.LastModified is { } t && now - t >= settings.OrphanAge);
            if (!old)
            {
                problems.Add($"{info.Name.Path} has no catalog and was written {(info.LastModified is { } w ? $"at {w:u}" : "at an unknown time")}: an upload may be under way, so it is left alone");
                continue;
            }
            result.Add(Price(info.Name, null, info.Length, 0, 0, 0, info.Length, PackStatus.Orphan,
                deletion.TryGetValue(id, out var why) ? why : null, info.LastModified, now, pricing, settings));
        }
        result.Sort((a, b) => string.CompareOrdinal(a.Name.Path, b.Name.Path));
        return new PrunePlan(now, snapshots.Count, pricing, minCold, minWarm, result, problems, live);
    }

    private static PackPlan Price(ObjectName name, PackKind? kind, long length, int blobs, int liveBlobs, long liveBytes, long deadBytes,
        PackStatus status, DeletionReason? deletion, DateTimeOffset? written, DateTimeOffset now, Pricing pricing, PruneSettings settings)
    {
        string cls = pricing.ClassOf(name.Tier);
        StorageClassPrices prices = pricing.Prices.Class(pricing.Provider, cls);
        double age = written is { } w ? Math.Max(0, (now - w).TotalDays) : 0;
        bool whole = status is PackStatus.WhollyDead or PackStatus.Orphan;
        decimal deadMonthly = status == PackStatus.Missing ? 0m
            : CostModel.EstimatePrune(pricing.Prices, pricing.Provider, cls, deadBytes, whole ? 1 : 0).DeadUsdPerMonth;
        decimal feeNow = status == PackStatus.Missing ? 0m : CostModel.EarlyDeletionUsd(pricing.Prices, pricing.Provider, cls, length, age);
        DateTimeOffset? freeAt = written?.AddDays(prices.MinimumDays);

        CompactEstimate? compact = null;
        double? payback = null;
        bool worth = false;
        if (status == PackStatus.PartlyDead)
        {
            var read = new ColdReadRequest(pricing.Provider, cls, length, 1, settings.ThawDays, settings.InRegion);
            compact = CostModel.EstimateCompact(pricing.Prices, read, 1, liveBytes, [new AgedObject(length, age)])
                .OrderBy(e => e.TotalUsd).First();
            payback = deadMonthly > 0 ? (double)(compact.TotalUsd / deadMonthly) : double.PositiveInfinity;
            worth = payback <= settings.MaxPaybackMonths;
        }
        return new PackPlan(BlobId.Parse(name.Name), kind, name, length, blobs, liveBlobs, liveBytes, deadBytes, status, deletion,
            written, age, deadMonthly, feeNow, freeAt, compact, payback, worth);
    }
}
