using System.Runtime.InteropServices;
using Strata.Crypto;
using Strata.Index;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Costs;

/// <summary>The sizes of one kind of object in one storage class, as a store listing reported them.</summary>
/// <param name="StorageClass">The class the store reported, or null when it reports none.</param>
public sealed record ListedObjects(ObjectKind Kind, string? StorageClass, IReadOnlyList<long> Sizes)
{
    public long Bytes => Sizes.Sum();
}

/// <summary>The objects of one kind in one class, priced for a month.</summary>
public sealed record KindUsage(ObjectKind Kind, Tier Tier, StorageEstimate Cost)
{
    public long Objects => Cost.Objects;
    public long Bytes => Cost.Bytes;
}

/// <summary>A repository's monthly storage cost, by kind and by tier.</summary>
public sealed record RepositoryStorageEstimate(string Provider, string WarmClass, string ColdClass, IReadOnlyList<KindUsage> Kinds)
{
    public long Objects(Tier tier) => Kinds.Where(k => k.Tier == tier).Sum(k => k.Objects);
    public long Bytes(Tier tier) => Kinds.Where(k => k.Tier == tier).Sum(k => k.Bytes);
    public decimal MonthlyUsd(Tier tier) => Kinds.Where(k => k.Tier == tier).Sum(k => k.Cost.MonthlyUsd);
    public decimal MonthlyUsd() => Kinds.Sum(k => k.Cost.MonthlyUsd);
}

/// <summary>How much of the repository one snapshot holds alone.</summary>
/// <param name="ReferencedRawBytes">Raw bytes of every distinct blob the snapshot references (data and trees).</param>
/// <param name="UniqueRawBytes">Raw bytes of the blobs no other snapshot references: what forgetting only this snapshot would free.</param>
/// <param name="UniqueStoredBytes">The same blobs as stored (compressed, encrypted).</param>
/// <param name="MissingBlobs">Referenced blobs the index does not know (run strata check).</param>
public sealed record SnapshotUsage(
    string Id,
    Snapshot Snapshot,
    long ReferencedBlobs,
    long ReferencedRawBytes,
    long UniqueBlobs,
    long UniqueRawBytes,
    long UniqueStoredBytes,
    long MissingBlobs);

/// <summary>Listings and tree walks for `strata estimate storage` and `strata stats`. Warm reads only: never a data pack.</summary>
public static class RepositoryUsage
{
    /// <summary>Lists every kind of object (one LIST per 1,000 objects on S3). Memory: 8 bytes per object.</summary>
    public static async Task<IReadOnlyList<ListedObjects>> ListAsync(IStore store, CancellationToken ct)
    {
        var result = new List<ListedObjects>();
        foreach (ObjectKind kind in ObjectKinds.All)
        {
            var byClass = new Dictionary<string, List<long>>(StringComparer.Ordinal);
            await foreach (ObjectInfo o in store.ListAsync(kind, ct).ConfigureAwait(false))
            {
                string key = o.StorageClass ?? "";
                if (!byClass.TryGetValue(key, out List<long>? sizes))
                {
                    byClass[key] = sizes = [];
                }
                sizes.Add(o.Length);
            }
            foreach ((string cls, List<long> sizes) in byClass.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                result.Add(new ListedObjects(kind, cls.Length == 0 ? null : cls, sizes));
            }
        }
        return result;
    }

    /// <summary>
    /// Prices a listing. Each object is priced at the class the store reported when the price table knows it for this
    /// provider (so staged packs count as STANDARD), else at the store's class for the object's tier.
    /// </summary>
    public static RepositoryStorageEstimate Price(PriceTable prices, StoreProperties store, IReadOnlyList<ListedObjects> listing)
    {
        ProviderPrices provider = prices.Provider(store.PriceProvider);
        var groups = new Dictionary<(ObjectKind, string), List<long>>();
        foreach (ListedObjects l in listing)
        {
            Tier tier = ObjectKinds.TierOf(l.Kind);
            string cls = l.StorageClass is { } reported && provider.Classes.ContainsKey(reported)
                ? provider.Class(reported).Name
                : tier == Tier.Cold ? store.ColdStorageClass : store.WarmStorageClass;
            if (!groups.TryGetValue((l.Kind, cls), out List<long>? sizes))
            {
                groups[(l.Kind, cls)] = sizes = [];
            }
            sizes.AddRange(l.Sizes);
        }
        var kinds = groups
            .OrderBy(g => g.Key.Item1)
            .ThenBy(g => g.Key.Item2, StringComparer.Ordinal)
            .Select(g => new KindUsage(g.Key.Item1, ObjectKinds.TierOf(g.Key.Item1), CostModel.EstimateStorage(prices, provider.Key, g.Key.Item2, g.Value)))
            .ToList();
        return new RepositoryStorageEstimate(provider.Key, store.WarmStorageClass, store.ColdStorageClass, kinds);
    }

    private struct Refs
    {
        public int Count;
        public int Last; // index + 1 of the last snapshot that referenced the blob
    }

    /// <summary>
    /// Per snapshot, the blobs it references and the ones no other snapshot references. Walks each snapshot's trees once
    /// (a subtree already seen in the same snapshot is not walked again), counting for every blob how many snapshots
    /// reference it. Needs the owner key. Memory: one entry (about 60 bytes) per distinct referenced blob.
    /// </summary>
    public static async Task<IReadOnlyList<SnapshotUsage>> SnapshotsAsync(Repo repo, IReadOnlyList<SnapshotRef> snapshots, CancellationToken ct)
    {
        repo.RequireOwner("computing per-snapshot sizes");
        var refs = new Dictionary<BlobId, Refs>();
        var referenced = new (long Blobs, long Raw, long Missing)[snapshots.Count];
        for (int i = 0; i < snapshots.Count; i++)
        {
            int mark = i + 1;
            long blobs = 0, raw = 0, missing = 0;
            bool First(BlobId id)
            {
                ref Refs r = ref CollectionsMarshal.GetValueRefOrAddDefault(refs, id, out _);
                if (r.Last == mark)
                {
                    return false;
                }
                r.Last = mark;
                r.Count++;
                blobs++;
                if (repo.Index.TryGet(id, out IndexEntry e))
                {
                    raw += e.RawLength;
                }
                else
                {
                    missing++;
                }
                return true;
            }
            var stack = new Stack<BlobId>();
            BlobId root = BlobId.Parse(snapshots[i].Snapshot.Tree);
            if (First(root))
            {
                stack.Push(root);
            }
            while (stack.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                BlobId treeId = stack.Pop();
                if (!repo.Index.Contains(treeId))
                {
                    continue; // counted as missing; nothing below it can be seen
                }
                Tree tree = await repo.LoadTreeAsync(treeId, ct).ConfigureAwait(false);
                foreach (Node n in tree.Nodes)
                {
                    foreach (BlobId c in n.Content)
                    {
                        First(c);
                    }
                    if (n.Subtree is { } sub && First(sub))
                    {
                        stack.Push(sub);
                    }
                }
            }
            referenced[i] = (blobs, raw, missing);
        }
        var unique = new (long Blobs, long Raw, long Stored)[snapshots.Count];
        foreach ((BlobId id, Refs r) in refs)
        {
            if (r.Count == 1 && repo.Index.TryGet(id, out IndexEntry e))
            {
                ref var u = ref unique[r.Last - 1];
                u.Blobs++;
                u.Raw += e.RawLength;
                u.Stored += e.StoredLength;
            }
        }
        return [.. snapshots.Select((s, i) => new SnapshotUsage(s.Id, s.Snapshot, referenced[i].Blobs, referenced[i].Raw, unique[i].Blobs, unique[i].Raw, unique[i].Stored, referenced[i].Missing))];
    }
}
