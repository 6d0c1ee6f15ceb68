using Strata.Stores;

namespace Strata.Costs;

/// <summary>What a cold read would fetch: enough to price it for every retrieval tier.</summary>
/// <param name="Provider">Price table provider key, e.g. "aws-s3", "azure-blob", "backblaze-b2".</param>
/// <param name="StorageClass">The class the objects are in, e.g. "DEEP_ARCHIVE", "GLACIER", "Archive".</param>
/// <param name="Bytes">Bytes to thaw and download (whole packs: thaws are per object).</param>
/// <param name="Objects">Number of objects (packs) to thaw.</param>
/// <param name="ThawDays">Days the thawed copy is kept (billed as STANDARD storage for those days).</param>
/// <param name="InRegion">Read from inside the provider's region: no egress charge.</param>
public sealed record ColdReadRequest(string Provider, string StorageClass, long Bytes, int Objects, int ThawDays, bool InRegion);

/// <summary>The time range and cost of a cold read at one retrieval tier. All amounts in USD.</summary>
public sealed record TierEstimate(
    ThawTier Tier,
    TimeSpan Fastest,
    TimeSpan Slowest,
    decimal RetrievalUsd,
    decimal RequestsUsd,
    decimal EgressUsd,
    decimal ThawedStorageUsd)
{
    public decimal TotalUsd => RetrievalUsd + RequestsUsd + EgressUsd + ThawedStorageUsd;
}

/// <summary>What storing a set of objects in one class costs per month.</summary>
/// <param name="BillableBytes">Bytes billed at the class rate: each object at least the minimum billable size, plus per-object class overhead.</param>
/// <param name="OverheadWarmBytes">Per-object overhead billed at the provider's warm class (Deep Archive / Glacier: 8 KB each).</param>
public sealed record StorageEstimate(
    string Provider,
    string StorageClass,
    long Objects,
    long Bytes,
    long BillableBytes,
    long OverheadWarmBytes,
    decimal StorageUsd,
    decimal OverheadWarmUsd)
{
    public decimal MonthlyUsd => StorageUsd + OverheadWarmUsd;
}

/// <summary>What writing objects into one class costs once: the PUT requests (ingress is free on every provider in the table).</summary>
public sealed record UploadEstimate(string Provider, string StorageClass, long Objects, long Bytes, decimal PutUsd);

/// <summary>The shape of what one backup run writes, for pricing it (see <see cref="CostModel.EstimateBackup"/>).</summary>
/// <param name="NewBytes">New data after deduplication (raw: compression only makes the real number smaller).</param>
/// <param name="NewTreeBytes">Bytes of new directory listings (warm tree packs).</param>
/// <param name="AllTreeBytes">Bytes of every directory listing of the snapshot (the band record holds them all).</param>
/// <param name="StageWarm">Data packs are written to the warm class first and copied into the cold class after verification.</param>
public sealed record BackupShape(
    long NewBytes,
    long NewBlobs,
    long NewTreeBytes,
    long NewTrees,
    long AllTreeBytes,
    long AllTrees,
    long ColdPackSize,
    long WarmPackSize,
    bool StageWarm = false);

/// <summary>What one backup run adds: objects, their upload cost once, and the storage they add per month.</summary>
public sealed record BackupEstimate(
    long DataPacks,
    long TreePacks,
    long ColdObjects,
    long ColdBytes,
    long WarmObjects,
    long WarmBytes,
    decimal ColdPutUsd,
    decimal WarmPutUsd,
    StorageEstimate ColdMonthly,
    StorageEstimate WarmMonthly)
{
    public long NewObjects => ColdObjects + WarmObjects;
    public decimal UploadUsd => ColdPutUsd + WarmPutUsd;
    public decimal AddedMonthlyUsd => ColdMonthly.MonthlyUsd + WarmMonthly.MonthlyUsd;
}

/// <summary>A cold read of the packs a restore needs, priced for every tier.</summary>
public sealed record RestoreEstimate(long Packs, long Bytes, IReadOnlyList<TierEstimate> Tiers);

/// <summary>A pack that compaction will delete, with its age (days since written) when it is deleted.</summary>
public readonly record struct AgedObject(long Bytes, double AgeDays);

/// <summary>What compacting costs at one retrieval tier.</summary>
/// <param name="Thaw">Reading the packs to rewrite.</param>
/// <param name="RewriteUsd">PUTs of the rewritten packs into the cold class and of their catalogs into the warm class.</param>
/// <param name="EarlyDeletionUsd">Fees for deleting the old packs before their minimum storage duration.</param>
public sealed record CompactEstimate(ThawTier Tier, TierEstimate Thaw, decimal RewriteUsd, decimal EarlyDeletionUsd)
{
    public decimal TotalUsd => Thaw.TotalUsd + RewriteUsd + EarlyDeletionUsd;
}

/// <summary>What pruning finds: the monthly cost of the dead data it marks (nothing is spent by prune itself).</summary>
/// <param name="DeadUsdPerMonth">Dead bytes at the class rate, plus the per-object overheads of packs with no live blob.</param>
public sealed record PruneEstimate(long DeadBytes, long DeadPacks, decimal DeadUsdPerMonth);

/// <summary>
/// The cost model: pure functions of a <see cref="PriceTable"/> and sizes. No I/O; docs/cost-model.md states every formula.
/// GB = 2^30 bytes; a month = 30 days; amounts in the provider's currency (USD for every default).
/// </summary>
public static class CostModel
{
    public const long BytesPerGb = 1L << 30;
    public const decimal DaysPerMonth = 30m;

    public static decimal Gb(long bytes) => (decimal)bytes / BytesPerGb;

    /// <summary>Price of <paramref name="gb"/> through tiered bands starting at zero (bands are cumulative).</summary>
    public static decimal Tiered(IReadOnlyList<PriceBand> bands, decimal gb)
    {
        decimal total = 0m;
        decimal lower = 0m;
        foreach (PriceBand band in bands)
        {
            if (gb <= lower)
            {
                break;
            }
            decimal upper = band.UpToGb ?? decimal.MaxValue;
            decimal inBand = Math.Min(gb, upper) - lower;
            total += inBand * band.UsdPerGb;
            lower = upper;
        }
        return total;
    }

    /// <summary>Price of <paramref name="requests"/> requests at <paramref name="per1000"/> per 1,000.</summary>
    public static decimal Requests(long requests, decimal per1000) => requests * per1000 / 1000m;

    /// <summary>
    /// Internet egress of <paramref name="bytes"/> in one month, assuming nothing else leaves the provider that month.
    /// Zero in region. <paramref name="storedBytes"/> feeds allowances proportional to what is stored (Backblaze B2: 3x);
    /// pass 0 when unknown, which errs towards charging.
    /// </summary>
    public static decimal Egress(EgressPrices egress, long bytes, bool inRegion, long storedBytes = 0)
    {
        if (inRegion || bytes <= 0)
        {
            return 0m;
        }
        decimal free = egress.FreeMultipleOfStored * Gb(storedBytes);
        decimal billable = Math.Max(0m, Gb(bytes) - free);
        return Tiered(egress.Tiers, billable);
    }

    /// <summary>
    /// A cold read at every retrieval tier the class offers, quickest first (by slowest time):
    /// retrieval = $/GB x GB; requests = objects x (tier per-1,000 + GET per-1,000) / 1,000; egress (0 in region);
    /// thawed copy = GB x warm-class rate x days / 30. A class read without a thaw gives one Standard estimate with zero time.
    /// </summary>
    public static IReadOnlyList<TierEstimate> EstimateColdRead(PriceTable prices, ColdReadRequest request)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(request.Bytes);
        ArgumentOutOfRangeException.ThrowIfNegative(request.Objects);
        ArgumentOutOfRangeException.ThrowIfNegative(request.ThawDays);
        ProviderPrices provider = prices.Provider(request.Provider);
        StorageClassPrices cls = provider.Class(request.StorageClass);
        decimal gb = Gb(request.Bytes);
        decimal egress = Egress(provider.Egress, request.Bytes, request.InRegion);
        decimal gets = Requests(request.Objects, cls.GetPer1000);
        if (!cls.NeedsThaw)
        {
            return [new TierEstimate(ThawTier.Standard, TimeSpan.Zero, TimeSpan.Zero, cls.ReadUsdPerGb * gb, gets, egress, 0m)];
        }
        decimal thawedCopy = ThawedCopy(provider, request.Bytes, request.ThawDays);
        var result = new List<TierEstimate>(cls.ThawTiers.Count);
        foreach (RetrievalTier tier in cls.ThawTiers)
        {
            result.Add(new TierEstimate(
                tier.Tier,
                tier.Fastest,
                tier.Slowest,
                tier.UsdPerGb * gb,
                Requests(request.Objects, tier.UsdPer1000) + gets,
                egress,
                thawedCopy));
        }
        return result;
    }

    /// <summary>The thawed copy: billed at the provider's warm class (first band) for the days it is kept.</summary>
    public static decimal ThawedCopy(ProviderPrices provider, long bytes, int days) =>
        Gb(bytes) * provider.Warm.BaseStorageRate * days / DaysPerMonth;

    /// <summary>
    /// Monthly storage of objects of the given sizes in one class: each object billed at least the class's minimum
    /// billable size, plus its class overhead at the class rate, plus its warm overhead at the warm class rate.
    /// Each class's bands apply to what this estimate puts in it.
    /// </summary>
    public static StorageEstimate EstimateStorage(PriceTable prices, string provider, string storageClass, IEnumerable<long> objectSizes)
    {
        ProviderPrices p = prices.Provider(provider);
        StorageClassPrices cls = p.Class(storageClass);
        long objects = 0, bytes = 0, billable = 0;
        foreach (long size in objectSizes)
        {
            objects++;
            bytes += size;
            billable += Math.Max(size, cls.MinimumBillableBytes) + cls.OverheadClassBytes;
        }
        return Storage(p, cls, objects, bytes, billable);
    }

    /// <summary>
    /// Monthly storage from totals only (for planning, when sizes are not known one by one): billable bytes are
    /// max(bytes, objects x minimum billable size) plus the overheads; exact when every object is at least the minimum.
    /// </summary>
    public static StorageEstimate EstimateStorage(PriceTable prices, string provider, string storageClass, long objects, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(objects);
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ProviderPrices p = prices.Provider(provider);
        StorageClassPrices cls = p.Class(storageClass);
        long billable = Math.Max(bytes, objects * cls.MinimumBillableBytes) + objects * cls.OverheadClassBytes;
        return Storage(p, cls, objects, bytes, billable);
    }

    private static StorageEstimate Storage(ProviderPrices p, StorageClassPrices cls, long objects, long bytes, long billable)
    {
        long warmOverhead = objects * cls.OverheadWarmBytes;
        decimal warmUsd = warmOverhead == 0 ? 0m : Tiered(p.Warm.Storage, Gb(warmOverhead));
        return new StorageEstimate(p.Key, cls.Name, objects, bytes, billable, warmOverhead, Tiered(cls.Storage, Gb(billable)), warmUsd);
    }

    /// <summary>Writing objects into a class: objects x PUT per 1,000 / 1,000 (ingress is free).</summary>
    public static UploadEstimate EstimateUpload(PriceTable prices, string provider, string storageClass, long objects, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(objects);
        StorageClassPrices cls = prices.Class(provider, storageClass);
        return new UploadEstimate(provider, cls.Name, objects, bytes, Requests(objects, cls.PutPer1000));
    }

    /// <summary>
    /// Fee for deleting one object of <paramref name="bytes"/> at <paramref name="ageDays"/> days from a class with a minimum
    /// storage duration: max(0, minimum - age) days x billable GB x class rate / 30. Zero once the minimum has passed.
    /// </summary>
    public static decimal EarlyDeletionUsd(PriceTable prices, string provider, string storageClass, long bytes, double ageDays)
    {
        StorageClassPrices cls = prices.Class(provider, storageClass);
        decimal remaining = Math.Max(0m, cls.MinimumDays - (decimal)Math.Max(0, ageDays));
        if (remaining == 0m)
        {
            return 0m;
        }
        long billable = Math.Max(bytes, cls.MinimumBillableBytes) + cls.OverheadClassBytes;
        return remaining * Gb(billable) * cls.BaseStorageRate / DaysPerMonth;
    }

    /// <summary>
    /// Hook for `strata prune`: the monthly cost of dead data. Dead bytes at the class rate; packs with no live blob
    /// also carry their per-object overheads (class and warm), which deleting them would save.
    /// </summary>
    public static PruneEstimate EstimatePrune(PriceTable prices, string provider, string coldClass, long deadBytes, long deadPacks)
    {
        ProviderPrices p = prices.Provider(provider);
        StorageClassPrices cls = p.Class(coldClass);
        decimal usd = (Gb(deadBytes) + Gb(deadPacks * cls.OverheadClassBytes)) * cls.BaseStorageRate
            + Gb(deadPacks * cls.OverheadWarmBytes) * p.Warm.BaseStorageRate;
        return new PruneEstimate(deadBytes, deadPacks, usd);
    }

    /// <summary>
    /// Hook for `strata compact`, per retrieval tier: the cold read of the packs to rewrite
    /// + PUTs of the rewritten packs (cold class) and of their catalogs (warm class)
    /// + early-deletion fees of the old packs at the ages they will have when deleted.
    /// </summary>
    public static IReadOnlyList<CompactEstimate> EstimateCompact(
        PriceTable prices,
        ColdReadRequest thaw,
        long rewrittenPacks,
        long rewrittenBytes,
        IEnumerable<AgedObject> deletedPacks)
    {
        ProviderPrices p = prices.Provider(thaw.Provider);
        decimal rewrite = EstimateUpload(prices, thaw.Provider, thaw.StorageClass, rewrittenPacks, rewrittenBytes).PutUsd
            + EstimateUpload(prices, thaw.Provider, p.WarmClass, rewrittenPacks, 0).PutUsd;
        decimal early = 0m;
        foreach (AgedObject old in deletedPacks)
        {
            early += EarlyDeletionUsd(prices, thaw.Provider, thaw.StorageClass, old.Bytes, old.AgeDays);
        }
        return EstimateColdRead(prices, thaw).Select(t => new CompactEstimate(t.Tier, t, rewrite, early)).ToList();
    }

    /// <summary>Catalog bytes per blob (the 32-byte id plus its other 20 bytes compressed, about 4; measured on ../shared/bench data) and a sealed catalog's fixed part (count, trailer, AEAD).</summary>
    internal const long CatalogBytesPerBlob = 36, CatalogFixedBytes = 4 + 128 + 40;

    /// <summary>A sealed snapshot and an index segment's fixed part: about 1 KiB each (an estimate; both are small).</summary>
    internal const long SnapshotBytes = 1024, IndexFixedBytes = 1024;

    /// <summary>
    /// What a backup writes and costs. Objects, as the archiver writes them:
    /// data packs = ceil(new bytes / cold pack size); one band pack (all trees + the snapshot); tree packs =
    /// ceil(new tree bytes / warm pack size); a catalog per pack; one index segment; one snapshot.
    /// Cold: data packs + band pack. Warm: tree packs, catalogs, index segment, snapshot.
    /// Upload = cold objects x cold PUT + warm objects x warm PUT (+ cold objects x warm PUT when staging warm).
    /// Added per month = storage of the cold objects in the cold class + of the warm objects in the warm class.
    /// </summary>
    public static BackupEstimate EstimateBackup(PriceTable prices, string provider, string coldClass, string warmClass, BackupShape shape)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.ColdPackSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shape.WarmPackSize);
        long dataPacks = CeilDiv(shape.NewBytes, shape.ColdPackSize);
        long treePacks = CeilDiv(shape.NewTreeBytes, shape.WarmPackSize);
        long coldObjects = dataPacks + 1;
        long coldBytes = shape.NewBytes + shape.AllTreeBytes + SnapshotBytes;
        long packs = coldObjects + treePacks;
        long catalogBlobs = shape.NewBlobs + shape.NewTrees + shape.AllTrees + 1;
        long catalogBytes = (catalogBlobs * CatalogBytesPerBlob) + (packs * CatalogFixedBytes);
        long indexBytes = IndexFixedBytes + (catalogBlobs * CatalogBytesPerBlob);
        long warmObjects = treePacks + packs + 2;
        long warmBytes = shape.NewTreeBytes + catalogBytes + indexBytes + SnapshotBytes;
        decimal coldPut = EstimateUpload(prices, provider, coldClass, coldObjects, coldBytes).PutUsd;
        decimal warmPut = EstimateUpload(prices, provider, warmClass, warmObjects + (shape.StageWarm ? coldObjects : 0), warmBytes).PutUsd;
        return new BackupEstimate(
            dataPacks,
            treePacks,
            coldObjects,
            coldBytes,
            warmObjects,
            warmBytes,
            coldPut,
            warmPut,
            EstimateStorage(prices, provider, coldClass, coldObjects, coldBytes),
            EstimateStorage(prices, provider, warmClass, warmObjects, warmBytes));
    }

    private static long CeilDiv(long a, long b) => a <= 0 ? 0 : ((a - 1) / b) + 1;

    /// <summary>A restore's cold read: the packs as whole objects (a thaw is per object), every tier the class offers.</summary>
    public static RestoreEstimate EstimateRestore(PriceTable prices, string provider, string coldClass, IEnumerable<long> packSizes, int thawDays, bool inRegion)
    {
        long bytes = 0;
        int packs = 0;
        foreach (long size in packSizes)
        {
            bytes += size;
            packs++;
        }
        return new RestoreEstimate(packs, bytes, EstimateColdRead(prices, new ColdReadRequest(provider, coldClass, bytes, packs, thawDays, inRegion)));
    }

    /// <summary>Hook for `strata recover`: a cold read of every pack (rebuilding warm metadata needs them all).</summary>
    public static IReadOnlyList<TierEstimate> EstimateRecover(PriceTable prices, string provider, string coldClass, long packBytes, int packs, int thawDays, bool inRegion) =>
        EstimateColdRead(prices, new ColdReadRequest(provider, coldClass, packBytes, packs, thawDays, inRegion));
}
