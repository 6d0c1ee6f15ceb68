using Strata.Archiver;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What one snapshot's copy did.</summary>
/// <param name="TargetId">The snapshot's id in the target (the existing one when it was already there).</param>
/// <param name="AlreadyThere">The target had this snapshot (same source and time): nothing was written.</param>
public sealed record CopiedSnapshot(string SourceId, string TargetId, bool AlreadyThere, long BlobsAdded, long BytesAdded, int PacksAdded);

/// <summary>
/// Copies snapshots between repositories with different keys (storage migration, NAS to cloud): every blob the
/// snapshot needs is read from the source (owner key), its id computed again with the target's dedup key, and,
/// when the target lacks it, compressed and sealed into the target's packs (target public key). Trees are rebuilt
/// with the new ids; each copied snapshot gets its own band record, index segment and snapshot object, written in
/// the backup's order (packs, catalogs, segment, snapshot), so an interrupted copy leaves the target valid and the
/// next run goes on with the snapshots still missing.
/// A snapshot is already in the target when a target snapshot header has the same source id (recomputed with the
/// target's key) and time; a writer key on the target is enough.
/// Memory: a map from source to target blob id (64 bytes per distinct blob seen) plus the target's index.
/// Reads every data blob of the snapshots copied: from a cold source, thaw first.
/// </summary>
public sealed class Copier
{
    private readonly Repo _from;
    private readonly Repo _to;
    private readonly Dictionary<BlobId, BlobId> _map = [];
    private readonly string _staging;
    private readonly bool _sameDedupKey;
    private PackWriter? _data;
    private PackWriter? _tree;
    private PackWriter? _band;
    private TreeBundle _bandTrees = new();
    private readonly List<IndexSegment.PackEntries> _written = [];
    private long _blobsAdded, _bytesAdded;
    private int _packsAdded;

    public Copier(Repo from, Repo to)
    {
        from.RequireOwner("copying snapshots out of a repository");
        _from = from;
        _to = to;
        _staging = to.Store is IStagingStore s ? s.StagingDirectory : Path.Combine(Path.GetTempPath(), "strata-staging");
        Directory.CreateDirectory(_staging);
        _sameDedupKey = from.Keys.DedupKey.AsSpan().SequenceEqual(to.Keys.DedupKey);
    }

    /// <summary>Told before each snapshot: (index, count, snapshot).</summary>
    public Action<int, int, SnapshotRef>? Starting { get; init; }

    /// <summary>Copies the snapshots in the order given (oldest first is best: parents are mapped when they were copied first).</summary>
    public async Task<List<CopiedSnapshot>> CopyAsync(IReadOnlyList<SnapshotRef> snapshots, CancellationToken ct)
    {
        // (source id in the target, time) -> target snapshot id, for what the target already has.
        var existing = new Dictionary<(string, DateTimeOffset), string>();
        foreach (var (id, h) in await _to.ListSnapshotHeadersAsync(ct).ConfigureAwait(false))
        {
            existing.TryAdd((h.SourceId, h.Time), id);
        }
        var copiedIds = new Dictionary<string, string>(StringComparer.Ordinal);
        var results = new List<CopiedSnapshot>();
        for (int i = 0; i < snapshots.Count; i++)
        {
            SnapshotRef s = snapshots[i];
            Starting?.Invoke(i, snapshots.Count, s);
            string targetSource = Archiver.Archiver.SourceId(_to.Keys, s.Snapshot);
            if (existing.TryGetValue((targetSource, s.Snapshot.Time), out string? there))
            {
                copiedIds[s.Id] = there;
                results.Add(new CopiedSnapshot(s.Id, there, true, 0, 0, 0));
                continue;
            }
            CopiedSnapshot done = await CopyOneAsync(s, targetSource, copiedIds, ct).ConfigureAwait(false);
            copiedIds[s.Id] = done.TargetId;
            existing[(targetSource, s.Snapshot.Time)] = done.TargetId;
            results.Add(done);
        }
        return results;
    }

    private async Task<CopiedSnapshot> CopyOneAsync(SnapshotRef s, string targetSource, Dictionary<string, string> copiedIds, CancellationToken ct)
    {
        _blobsAdded = _bytesAdded = 0;
        _packsAdded = 0;
        _written.Clear();
        var onTheWay = OnTheWaySet(s.Snapshot.Paths);
        try
        {
            var (rootTree, rootState) = await CopyTreeAsync(BlobId.Parse(s.Snapshot.Tree), "/", onTheWay, ct).ConfigureAwait(false);
            Snapshot copy = s.Snapshot with
            {
                Tree = rootTree.ToString(),
                SourceId = targetSource,
                State = s.Snapshot.State is null ? null : rootState.ToString(),
                Parent = s.Snapshot.Parent is { } p && copiedIds.TryGetValue(p, out string? mapped) ? mapped : null,
                BandPack = null,
            };
            // Every copied snapshot gets a band: its trees and body in the target's cold tier, so that tier alone can rebuild it.
            AddBandTrees();
            byte[] body = SnapshotCodec.EncodeBody(copy);
            AddBlob(ref _band, PackKind.Band, _to.Keys.IdOf(body), BlobKind.Snapshot, body, _to.Config.Compression.ColdLevel);
            await FinishAsync(_data, ct).ConfigureAwait(false);
            _data = null;
            await FinishAsync(_tree, ct).ConfigureAwait(false);
            _tree = null;
            await FinishAsync(_band, ct).ConfigureAwait(false);
            _band = null;
            if (_written.Count > 0)
            {
                await _to.WriteIndexSegmentAsync(_written, ct).ConfigureAwait(false);
            }
            copy = copy with { BandPack = _written.FirstOrDefault(w => w.Kind == PackKind.Band)?.Id.ToString() };
            string id = await _to.WriteSnapshotAsync(copy, ct).ConfigureAwait(false);
            return new CopiedSnapshot(s.Id, id, false, _blobsAdded, _bytesAdded, _packsAdded);
        }
        finally
        {
            _data?.Dispose();
            _tree?.Dispose();
            _band?.Dispose();
            _data = _tree = _band = null;
            _bandTrees = new TreeBundle();
        }
    }

    /// <summary>Folders strictly above a backed-up path ("/" and "/home" for "/home/ann"): their state covers only name and contents, as the archiver's.</summary>
    private static HashSet<string> OnTheWaySet(IReadOnlyList<string> paths)
    {
        var set = new HashSet<string>(StringComparer.Ordinal) { "/" };
        foreach (string p in paths)
        {
            string cur = p;
            while (true)
            {
                int slash = cur.LastIndexOf('/');
                if (slash <= 0)
                {
                    break;
                }
                cur = cur[..slash];
                set.Add(cur);
            }
        }
        return set;
    }

    /// <summary>Copies a tree and everything below it; returns its id and state id in the target.</summary>
    private async Task<(BlobId Id, BlobId State)> CopyTreeAsync(BlobId sourceTree, string path, HashSet<string> onTheWay, CancellationToken ct)
    {
        Tree tree = await _from.LoadTreeAsync(sourceTree, ct).ConfigureAwait(false);
        var nodes = new List<Node>(tree.Nodes.Count);
        foreach (Node n in tree.Nodes)
        {
            string childPath = path == "/" ? "/" + n.DisplayName : path + "/" + n.DisplayName;
            Node copy = n;
            if (n.Content.Count > 0)
            {
                var content = new List<BlobId>(n.Content.Count);
                foreach (BlobId b in n.Content)
                {
                    content.Add(await CopyDataBlobAsync(b, ct).ConfigureAwait(false));
                }
                copy = copy with { Content = content };
            }
            if (n.Subtree is { } sub)
            {
                var (id, state) = await CopyTreeAsync(sub, childPath, onTheWay, ct).ConfigureAwait(false);
                copy = copy with { Subtree = id, State = state, OnTheWay = onTheWay.Contains(childPath) };
            }
            nodes.Add(copy);
        }
        var rebuilt = new Tree(nodes);
        byte[] data = rebuilt.Encode();
        BlobId treeId = _to.Keys.IdOf(data);
        BlobId stateId = _to.Keys.IdOf(rebuilt.Encode(forState: true));
        if (!_to.Index.Contains(treeId) && !(_tree?.Contains(treeId) ?? false))
        {
            AddBlob(ref _tree, PackKind.Tree, treeId, BlobKind.Tree, data, _to.Config.Compression.WarmLevel);
            if (_tree!.Length >= _to.Config.Packs.WarmTargetSize)
            {
                await FinishAsync(_tree, ct).ConfigureAwait(false);
                _tree = null;
            }
        }
        if (_bandTrees.Add(treeId, data) && _bandTrees.IsFull)
        {
            AddBandTrees();
        }
        return (treeId, stateId);
    }

    /// <summary>Adds the trees bundled since the last call to the band pack as one blob.</summary>
    private void AddBandTrees()
    {
        if (!_bandTrees.IsEmpty)
        {
            byte[] bundle = _bandTrees.Take();
            AddBlob(ref _band, PackKind.Band, _to.Keys.IdOf(bundle), BlobKind.TreeBundle, bundle, _to.Config.Compression.ColdLevel);
        }
    }

    private async Task<BlobId> CopyDataBlobAsync(BlobId sourceId, CancellationToken ct)
    {
        if (_map.TryGetValue(sourceId, out BlobId known))
        {
            return known;
        }
        // Same dedup key (a target made from the same keys): the id does not change, and a blob the target has is not read at all.
        if (_sameDedupKey && (_to.Index.Contains(sourceId) || (_data?.Contains(sourceId) ?? false)))
        {
            _map[sourceId] = sourceId;
            return sourceId;
        }
        byte[] plain = await _from.ReadBlobAsync(sourceId, ct).ConfigureAwait(false);
        BlobId targetId = _to.Keys.IdOf(plain);
        if (!_to.Index.Contains(targetId) && !(_data?.Contains(targetId) ?? false))
        {
            AddBlob(ref _data, PackKind.Data, targetId, BlobKind.Data, plain, _to.Config.Compression.ColdLevel);
            _blobsAdded++;
            _bytesAdded += plain.Length;
            if (_data!.Length >= _to.Config.Packs.ColdTargetSize)
            {
                await FinishAsync(_data, ct).ConfigureAwait(false);
                _data = null;
            }
        }
        _map[sourceId] = targetId;
        return targetId;
    }

    private void AddBlob(ref PackWriter? pack, PackKind kind, BlobId id, BlobKind blobKind, byte[] data, int level)
    {
        pack ??= new PackWriter(Path.Combine(_staging, $"pack-{Guid.NewGuid():N}"), kind, _to.Keys);
        using var c = new Compression.ZstdCompressor(level);
        byte[] compressed = c.Compress(data);
        bool useCompressed = compressed.Length < data.Length;
        pack.Add(id, blobKind, useCompressed ? compressed : data, useCompressed, data.Length);
    }

    /// <summary>Finishes a pack and uploads it, then its catalog; its blobs become visible to dedup at once.</summary>
    private async Task FinishAsync(PackWriter? pack, CancellationToken ct)
    {
        if (pack is null || pack.Count == 0)
        {
            pack?.Dispose();
            return;
        }
        FinishedPack done = pack.Finish();
        pack.Dispose();
        var name = new ObjectName(done.Kind == PackKind.Tree ? ObjectKind.Tree : ObjectKind.Data, done.Id.ToString());
        if (_to.Store is IStagingStore staging)
        {
            await staging.AdoptAsync(name, done.Path, ct).ConfigureAwait(false);
        }
        else
        {
            await using (var fs = new FileStream(done.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
            {
                await _to.Store.WriteAsync(name, fs, ct).ConfigureAwait(false);
            }
            File.Delete(done.Path);
        }
        using (var tail = new MemoryStream(done.Tail, writable: false))
        {
            await _to.Store.WriteAsync(new ObjectName(ObjectKind.Catalogs, done.Id.ToString()), tail, ct).ConfigureAwait(false);
        }
        _to.Index.AddPack(done.Id, done.Kind, done.Length, done.Entries);
        _written.Add(new IndexSegment.PackEntries(done.Id, done.Kind, done.Length, done.Entries));
        _packsAdded++;
    }
}
