using Strata.Archiver;
using Strata.Costs;
using Strata.Crypto;
using Strata.Index;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Restorer;

/// <summary>One file a restore writes, and the packs its content is read from (in the order it needs them).</summary>
/// <param name="Path">The file's absolute path in the snapshot.</param>
/// <param name="MissingBlobs">Blobs of the content the index does not know; the restore will report the file as damaged.</param>
public sealed record PlannedFile(string Path, Node Node, IReadOnlyList<BlobId> Packs, int MissingBlobs = 0);

/// <summary>One pack a restore reads, with its thaw state as the store reported it when the plan was made.</summary>
/// <param name="Bytes">The whole pack: a thaw is per object, so this is what is thawed, billed and downloaded.</param>
/// <param name="Missing">The pack is in the index but not in the store (the restore will report its files as damaged).</param>
public sealed record PlannedPack(BlobId Id, ObjectName Name, long Bytes, ThawStatus Status, bool Missing = false)
{
    public bool Cold => Name.Tier == Tier.Cold;

    /// <summary>A cold pack that cannot be read now and is not being thawed: only a (new) thaw request makes it readable.</summary>
    public bool NeedsThaw => Cold && !Missing && Status.State == ThawState.Frozen;

    public bool Readable => !Missing && Status.CanRead;
}

/// <summary>
/// What a restore of some paths of a snapshot reads, computed from warm data only (trees, index, a HEAD-like thaw state
/// per cold pack): the files it writes, the packs each needs, and the set of cold packs with their thaw states.
/// Memory: one entry per selected file (its node and pack list) and one per pack.
/// </summary>
public sealed record RestorePlan(
    Snapshot Snapshot,
    IReadOnlyList<PlannedFile> Files,
    IReadOnlyList<PlannedPack> Packs,
    IReadOnlyList<RestoreFailure> Problems)
{
    private (IReadOnlyList<PlannedPack> For, Dictionary<BlobId, PlannedPack> Map)? _byId;

    public long FileBytes => Files.Sum(f => f.Node.Size);

    /// <summary>The exact set of cold packs the selected files need, in the order the restore first needs them.</summary>
    public IReadOnlyList<PlannedPack> ColdPacks => [.. Packs.Where(p => p.Cold)];

    public long ColdBytes => Packs.Where(p => p.Cold).Sum(p => p.Bytes);

    public int ColdObjects => Packs.Count(p => p.Cold);

    /// <summary>Cold packs that need a thaw request before they can be read.</summary>
    public IReadOnlyList<PlannedPack> ToThaw => [.. Packs.Where(p => p.NeedsThaw)];

    /// <summary>How many cold packs are in each thaw state (missing packs are not counted).</summary>
    public int CountCold(ThawState state) => Packs.Count(p => p.Cold && !p.Missing && p.Status.State == state);

    public PlannedPack? Pack(BlobId id)
    {
        if (_byId is not { } m || !ReferenceEquals(m.For, Packs))
        {
            m = (Packs, Packs.ToDictionary(p => p.Id));
            _byId = m;
        }
        return m.Map.GetValueOrDefault(id);
    }

    /// <summary>The price-table question for reading <paramref name="packs"/> (whole objects) from this store's cold class.</summary>
    public static ColdReadRequest ColdRead(StoreProperties store, IEnumerable<PlannedPack> packs, int days, bool inRegion)
    {
        long bytes = 0;
        int objects = 0;
        foreach (PlannedPack p in packs)
        {
            bytes += p.Bytes;
            objects++;
        }
        return new ColdReadRequest(store.PriceProvider, store.ColdStorageClass, bytes, objects, days, inRegion);
    }
}

/// <summary>
/// Plans a restore without touching a cold object (DESIGN.md principle 3): the tree walk reads warm tree packs, pack
/// locations come from the in-memory index, and thaw states from the store's metadata call (S3 HeadObject).
/// </summary>
public static class RestorePlanner
{
    /// <summary>
    /// The files a restore with these includes and excludes writes (the same selection as <see cref="Restorer"/>: a hard
    /// link's later names need no content and are not listed), the packs each needs, and every needed pack's thaw state.
    /// </summary>
    public static async Task<RestorePlan> PlanAsync(Repo repo, Snapshot snapshot, ExcludeMatcher includes, ExcludeMatcher excludes, CancellationToken ct)
    {
        repo.RequireOwner("planning a restore");
        var walk = new Walk(repo, includes, excludes);
        Tree root = await repo.LoadTreeAsync(BlobId.Parse(snapshot.Tree), ct).ConfigureAwait(false);
        await walk.RunAsync(root, "", false, ct).ConfigureAwait(false);
        IReadOnlyList<PlannedPack> packs = await StatusesAsync(repo.Store, walk.PackOrder.Select(p => new PlannedPack(p.Id, p.ObjectName, p.Length, new ThawStatus(ThawState.Readable))).ToList(), ct).ConfigureAwait(false);
        return new RestorePlan(snapshot, walk.Files, packs, walk.Problems);
    }

    /// <summary>The plan of one file (a dump): the packs of the regular file at <paramref name="path"/>. Null when there is no such file.</summary>
    public static async Task<RestorePlan?> PlanFileAsync(Repo repo, Snapshot snapshot, string path, CancellationToken ct)
    {
        repo.RequireOwner("planning a restore");
        Node? node = await TreeOps.FindAsync(repo, snapshot, path, ct).ConfigureAwait(false);
        if (node is not { Kind: FileKind.Regular })
        {
            return null;
        }
        var walk = new Walk(repo, new ExcludeMatcher([]), new ExcludeMatcher([]));
        walk.AddFile(path, node);
        IReadOnlyList<PlannedPack> packs = await StatusesAsync(repo.Store, walk.PackOrder.Select(p => new PlannedPack(p.Id, p.ObjectName, p.Length, new ThawStatus(ThawState.Readable))).ToList(), ct).ConfigureAwait(false);
        return new RestorePlan(snapshot, walk.Files, packs, walk.Problems);
    }

    /// <summary>
    /// Asks the store for the current thaw state of each cold pack (warm packs, and stores whose cold class reads
    /// without a thaw, are readable without asking). A pack the store does not have is marked missing.
    /// One metadata request per cold pack, <see cref="StoreProperties.Connections"/> at a time.
    /// </summary>
    public static async Task<IReadOnlyList<PlannedPack>> StatusesAsync(IStore store, IReadOnlyList<PlannedPack> packs, CancellationToken ct)
    {
        StoreProperties props = store.Properties;
        if (!props.HasColdTier || props.ColdReadsDirectly)
        {
            return [.. packs.Select(p => p with { Status = new ThawStatus(ThawState.Readable), Missing = false })];
        }
        var result = new PlannedPack[packs.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, packs.Count), new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(props.Connections, 1, 32), CancellationToken = ct }, async (i, c) =>
        {
            PlannedPack p = packs[i];
            if (!p.Cold)
            {
                result[i] = p with { Status = new ThawStatus(ThawState.Readable), Missing = false };
                return;
            }
            try
            {
                result[i] = p with { Status = await store.GetThawStatusAsync(p.Name, c).ConfigureAwait(false), Missing = false };
            }
            catch (ObjectNotFoundException)
            {
                result[i] = p with { Status = new ThawStatus(ThawState.Frozen), Missing = true };
            }
        }).ConfigureAwait(false);
        return result;
    }

    /// <summary>The tree walk of <see cref="Restorer"/>, collecting instead of writing.</summary>
    private sealed class Walk(Repo repo, ExcludeMatcher includes, ExcludeMatcher excludes)
    {
        private readonly HashSet<(ulong, ulong)> _links = [];
        private readonly HashSet<BlobId> _seenPacks = [];

        public List<PlannedFile> Files { get; } = [];
        public List<PackRecord> PackOrder { get; } = [];
        public List<RestoreFailure> Problems { get; } = [];

        public async Task RunAsync(Tree tree, string display, bool selectedParent, CancellationToken ct)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (Node node in tree.Nodes)
            {
                string childDisplay = display + "/" + node.DisplayName;
                if (!RestoreSelection.IsSafeName(node.Name) || !seen.Add(Convert.ToBase64String(node.Name)))
                {
                    continue; // the restore refuses it and says so
                }
                bool selected = RestoreSelection.Selected(includes, excludes, childDisplay, selectedParent, out bool descend);
                if (!descend)
                {
                    continue;
                }
                switch (node.Kind)
                {
                    case FileKind.Directory:
                        if (node.Subtree is not { } sub || (!selected && includes.IsEmpty))
                        {
                            continue;
                        }
                        Tree child;
                        try
                        {
                            child = await repo.LoadTreeAsync(sub, ct).ConfigureAwait(false);
                        }
                        catch (CorruptionException e)
                        {
                            Problems.Add(new RestoreFailure(childDisplay, e.Message));
                            continue;
                        }
                        await RunAsync(child, childDisplay, selected, ct).ConfigureAwait(false);
                        break;
                    case FileKind.Regular when selected:
                        if (node.IsHardLinked && !_links.Add((node.Device, node.Inode)))
                        {
                            continue; // a later name of a hard-linked file: linked, not read
                        }
                        AddFile(childDisplay, node);
                        break;
                }
            }
        }

        public void AddFile(string path, Node node)
        {
            var packs = new List<BlobId>();
            var mine = new HashSet<BlobId>();
            int missing = 0;
            foreach (BlobId id in node.Content)
            {
                if (!repo.Index.TryGet(id, out IndexEntry e))
                {
                    missing++;
                    continue;
                }
                PackRecord pack = repo.Index.PackOf(e);
                if (mine.Add(pack.Id))
                {
                    packs.Add(pack.Id);
                }
                if (_seenPacks.Add(pack.Id))
                {
                    PackOrder.Add(pack);
                }
            }
            if (missing > 0)
            {
                Problems.Add(new RestoreFailure(path, $"{missing} of its blobs are not in the index (run strata check)"));
            }
            Files.Add(new PlannedFile(path, node, packs, missing));
        }
    }
}
