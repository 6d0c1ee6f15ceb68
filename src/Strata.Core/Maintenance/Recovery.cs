using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What recover must read: data packs whose kind is unknown (no catalog) and band records, with their thaw states.</summary>
/// <param name="ToRead">Cold packs recover reads whole (band records) or whose tail it reads (packs without a catalog).</param>
/// <param name="NotReadable">Those of them that cannot be read now (frozen, or thawing).</param>
public sealed record RecoveryPlan(IReadOnlyList<ObjectInfo> ToRead, IReadOnlyList<ObjectInfo> NotReadable, int DataPacks, int BandPacksKnown, int PacksWithoutCatalog)
{
    public long BytesToRead => ToRead.Sum(o => o.Length);
}

/// <summary>What recover rebuilt.</summary>
public sealed record RecoveryResult(int SnapshotsWritten, int SnapshotsPresent, int TreesWritten, int TreePacks, int CatalogsRewritten, string? IndexSegment, IReadOnlyList<string> Damaged);

/// <summary>
/// `strata recover`: rebuilds the warm layer (catalogs, trees, snapshots, index) from the cold packs alone, using the band
/// record each backup writes (docs/format.md §12). Needs the config and an owner key file (keep copies: they are small
/// and the passphrase alone cannot rebuild them). Every band record is read whole, so every band pack must be readable
/// (thawed) first; data packs need only their catalog, which is read from the pack's tail when the warm copy is gone.
/// The caller prices and thaws what <see cref="PlanAsync"/> lists. Existing warm objects are kept; what exists is not
/// written again. "Unchanged since" snapshots write no band and are not recovered (their versions' snapshots are).
/// </summary>
public static class Recovery
{
    public static async Task<RecoveryPlan> PlanAsync(Repo repo, CancellationToken ct)
    {
        repo.RequireOwner("recovering");
        var catalogs = new Dictionary<string, ObjectInfo>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Catalogs, ct).ConfigureAwait(false))
        {
            catalogs[o.Name.Name] = o;
        }
        var toRead = new List<ObjectInfo>();
        int data = 0, bands = 0, unknown = 0;
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Data, ct).ConfigureAwait(false))
        {
            data++;
            if (catalogs.TryGetValue(o.Name.Name, out ObjectInfo? cat))
            {
                byte[] trailer = new byte[PackTrailer.Size];
                await repo.Store.ReadAsync(cat.Name, cat.Length - PackTrailer.Size, trailer, ct).ConfigureAwait(false);
                if (PackTrailer.Read(trailer, cat.Name.Path).Kind == PackKind.Band)
                {
                    bands++;
                    toRead.Add(o);
                }
            }
            else
            {
                unknown++;
                toRead.Add(o);
            }
        }
        var notReadable = new List<ObjectInfo>();
        foreach (ObjectInfo o in toRead)
        {
            if (!(await repo.Store.GetThawStatusAsync(o.Name, ct).ConfigureAwait(false)).CanRead)
            {
                notReadable.Add(o);
            }
        }
        return new RecoveryPlan(toRead, notReadable, data, bands, unknown);
    }

    public static async Task<RecoveryResult> RunAsync(Repo repo, Action<string>? log, CancellationToken ct)
    {
        repo.RequireOwner("recovering");
        PackScan scan = await PackScanner.ScanAsync(repo, log, ct).ConfigureAwait(false);
        if (scan.NeedThaw.Count > 0)
        {
            throw new UserInputException($"{scan.NeedThaw.Count} packs without a catalog cannot be read yet (first: {scan.NeedThaw[0].Name.Path}); thaw them first");
        }
        var damaged = new List<string>(scan.Damaged);

        // Trees the warm tree packs still hold need no rewrite.
        var haveTrees = new HashSet<BlobId>(scan.Packs.Values.Where(p => p.Kind == PackKind.Tree).SelectMany(p => p.Entries).Select(e => e.Id));
        var existing = new HashSet<(DateTimeOffset, string, string)>();
        int present = 0;
        await foreach (var (id, bytes) in repo.ReadSnapshotObjectsAsync(ct).ConfigureAwait(false))
        {
            try
            {
                Snapshot s = SnapshotCodec.OpenBody(bytes, repo.Keys, $"snapshots/{id}");
                existing.Add((s.Time, s.SourceId, s.Tree));
                present++;
            }
            catch (CorruptionException e)
            {
                damaged.Add($"snapshots/{id}: {e.Message}");
            }
        }

        string staging = PackUpload.StagingDirectory(repo.Store);
        PackWriter? trees = null;
        using var warm = new Compression.ZstdCompressor(repo.Config.Compression.WarmLevel);
        var newPacks = new List<IndexSegment.PackEntries>();
        var snapshots = new List<Snapshot>();
        int treesWritten = 0;
        foreach (var band in scan.Packs.Values.Where(p => p.Kind == PackKind.Band).OrderBy(p => p.Id.ToString(), StringComparer.Ordinal))
        {
            var name = new ObjectName(ObjectKind.Data, band.Id.ToString());
            byte[] bytes;
            try
            {
                bytes = await repo.ReadWholeAsync(name, ct).ConfigureAwait(false);
            }
            catch (ObjectFrozenException)
            {
                throw new UserInputException($"{name.Path} (a band record) cannot be read yet; thaw it first");
            }
            try
            {
                if (BlobId.Read(SHA256.HashData(bytes)) != band.Id)
                {
                    throw new CorruptionException($"{name.Path}: content does not match its name");
                }
                PackTrailer t = PackTrailer.Read(bytes.AsSpan(bytes.Length - PackTrailer.Size), name.Path);
                byte[] key = KeyWrap.Unwrap(repo.Keys.PrivateKey!, t.WrappedKey) ?? throw new CorruptionException($"{name.Path}: the pack key does not open");
                using var aead = new Aead(key);
                foreach (CatalogEntry e in band.Entries)
                {
                    var (payload, plain) = PackCodec.OpenBlobWithPayload(bytes.AsSpan((int)e.Offset, e.StoredLength), e, aead, repo.Keys, name.Path);
                    if (e.Kind == BlobKind.Snapshot)
                    {
                        snapshots.Add(SnapshotCodec.DecodeBody(plain, $"{name.Path} snapshot") with { BandPack = band.Id.ToString() });
                    }
                    else if (e.Kind == BlobKind.Tree && haveTrees.Add(e.Id))
                    {
                        // A band written before tree bundles: each tree is a blob of its own, its payload reused as it is.
                        trees ??= new PackWriter(Path.Combine(staging, $"pack-{Guid.NewGuid():N}"), PackKind.Tree, repo.Keys);
                        trees.Add(e.Id, BlobKind.Tree, payload, e.Compressed, e.RawLength);
                        treesWritten++;
                    }
                    else if (e.Kind == BlobKind.TreeBundle)
                    {
                        foreach (byte[] tree in TreeBundle.Split(plain, $"{name.Path} blob {e.Id.Short}"))
                        {
                            BlobId id = repo.Keys.IdOf(tree);
                            if (haveTrees.Add(id))
                            {
                                trees ??= new PackWriter(Path.Combine(staging, $"pack-{Guid.NewGuid():N}"), PackKind.Tree, repo.Keys);
                                byte[] compressed = warm.Compress(tree);
                                bool useCompressed = compressed.Length < tree.Length;
                                trees.Add(id, BlobKind.Tree, useCompressed ? compressed : tree, useCompressed, tree.Length);
                                treesWritten++;
                            }
                        }
                    }
                    if (trees is not null && trees.Length >= repo.Config.Packs.WarmTargetSize)
                    {
                        newPacks.Add(await FinishAsync(repo, trees, ct).ConfigureAwait(false));
                        trees = null;
                    }
                }
                log?.Invoke($"read band record {name.Path}");
            }
            catch (CorruptionException e)
            {
                damaged.Add(e.Message);
            }
        }
        if (trees is not null)
        {
            newPacks.Add(await FinishAsync(repo, trees, ct).ConfigureAwait(false));
        }

        var all = scan.Packs.Values.Concat(newPacks).OrderBy(p => p.Id.ToString(), StringComparer.Ordinal).ToList();
        string? segment = all.Count > 0 ? await repo.WriteIndexSegmentAsync(all, ct).ConfigureAwait(false) : null;

        int written = 0;
        foreach (Snapshot s in snapshots.OrderBy(s => s.Time))
        {
            if (existing.Add((s.Time, s.SourceId, s.Tree)))
            {
                await repo.WriteSnapshotAsync(s, ct).ConfigureAwait(false);
                written++;
            }
        }
        return new RecoveryResult(written, present, treesWritten, newPacks.Count, scan.CatalogsRewritten.Count, segment, damaged);
    }

    private static async Task<IndexSegment.PackEntries> FinishAsync(Repo repo, PackWriter w, CancellationToken ct)
    {
        using (w)
        {
            FinishedPack done = w.Finish();
            return await PackUpload.UploadAsync(repo.Store, done, ct).ConfigureAwait(false);
        }
    }
}
