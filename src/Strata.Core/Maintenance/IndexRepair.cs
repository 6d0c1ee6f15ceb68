using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What a pass over the packs found: the catalogs of every pack it could read, and the packs it could not read yet.</summary>
public sealed record PackScan(
    Dictionary<BlobId, IndexSegment.PackEntries> Packs,
    IReadOnlyList<ObjectInfo> NeedThaw,
    IReadOnlyList<string> CatalogsRewritten,
    IReadOnlyList<string> Damaged);

/// <summary>What `strata repair index` did.</summary>
public sealed record RepairResult(PackScan Scan, string? IndexSegment, int SegmentsRemoved, IReadOnlyList<string> DroppedPacks);

/// <summary>
/// Finds every pack's catalog: the warm catalogs/ copy when there is one (no thaw), else the pack's own tail (a tree
/// pack is warm; a data pack must be readable: thawed, or in a warm class). A catalog read from a pack's tail is written
/// back as its catalogs/ copy. Packs a purge is deleting are skipped.
/// </summary>
public static class PackScanner
{
    public static async Task<PackScan> ScanAsync(Repo repo, Action<string>? log, CancellationToken ct)
    {
        var deletions = await DeletionRecords.ListAsync(repo.Store, repo.Keys.IndexKey, ct).ConfigureAwait(false);
        var purging = deletions.Where(d => d.Record.Reason == DeletionReason.Purge).SelectMany(d => d.Record.Packs).ToHashSet();
        var catalogs = new Dictionary<string, ObjectInfo>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Catalogs, ct).ConfigureAwait(false))
        {
            catalogs[o.Name.Name] = o;
        }
        var packs = new Dictionary<BlobId, IndexSegment.PackEntries>();
        var needThaw = new List<ObjectInfo>();
        var rewritten = new List<string>();
        var damaged = new List<string>();
        foreach (ObjectKind kind in new[] { ObjectKind.Tree, ObjectKind.Data })
        {
            await foreach (ObjectInfo o in repo.Store.ListAsync(kind, ct).ConfigureAwait(false))
            {
                if (!BlobId.TryParse(o.Name.Name, out BlobId id) || purging.Contains(o.Name.Name))
                {
                    continue;
                }
                try
                {
                    if (catalogs.TryGetValue(o.Name.Name, out ObjectInfo? cat))
                    {
                        byte[] tail = await Repo.ReadWholeAsync(repo.Store, cat.Name, cat.Length, ct).ConfigureAwait(false);
                        var (trailer, entries) = PackCodec.ParseTail(tail, repo.Keys.IndexKey, cat.Name.Path);
                        packs[id] = new IndexSegment.PackEntries(id, trailer.Kind, o.Length, entries);
                        continue;
                    }
                    var (packTail, t, list) = await ReadTailAsync(repo, o, ct).ConfigureAwait(false);
                    packs[id] = new IndexSegment.PackEntries(id, t.Kind, o.Length, list);
                    using (var ms = new MemoryStream(packTail, writable: false))
                    {
                        await repo.Store.WriteAsync(new ObjectName(ObjectKind.Catalogs, o.Name.Name), ms, ct).ConfigureAwait(false);
                    }
                    rewritten.Add(o.Name.Name);
                    log?.Invoke($"catalogs/{o.Name.Name} rewritten from the pack's tail");
                }
                catch (CorruptionException e)
                {
                    damaged.Add($"{o.Name.Path}: {e.Message}");
                }
                catch (ObjectFrozenException)
                {
                    needThaw.Add(o);
                }
            }
        }
        return new PackScan(packs, needThaw, rewritten, damaged);
    }

    /// <summary>Reads a pack's tail (two ranged reads: the trailer, then the catalog before it).</summary>
    public static async Task<(byte[] Tail, PackTrailer Trailer, List<CatalogEntry> Entries)> ReadTailAsync(Repo repo, ObjectInfo pack, CancellationToken ct)
    {
        if (pack.Length < PackTrailer.Size)
        {
            throw new CorruptionException($"{pack.Name.Path}: too short to be a pack ({pack.Length} bytes)");
        }
        byte[] trailerBytes = new byte[PackTrailer.Size];
        await repo.Store.ReadAsync(pack.Name, pack.Length - PackTrailer.Size, trailerBytes, ct).ConfigureAwait(false);
        PackTrailer t = PackTrailer.Read(trailerBytes, pack.Name.Path);
        long tailLength = (long)t.CatalogLength + PackTrailer.Size;
        if (t.CatalogLength <= 0 || tailLength > pack.Length)
        {
            throw new CorruptionException($"{pack.Name.Path}: the trailer names a catalog that does not fit ({t.CatalogLength} bytes)");
        }
        byte[] tail = new byte[tailLength];
        await repo.Store.ReadAsync(pack.Name, pack.Length - tailLength, tail, ct).ConfigureAwait(false);
        var (trailer, entries) = PackCodec.ParseTail(tail, repo.Keys.IndexKey, pack.Name.Path);
        return (tail, trailer, entries);
    }
}

/// <summary>
/// `strata repair index`: a new index from the packs that exist, then the old segments are deleted. Needs no thaw when
/// every pack has its warm catalog. If some data pack has no catalog and cannot be read yet, nothing is replaced: the
/// caller thaws those packs (priced first) and runs it again. Works when index segments are damaged or gone: it reads
/// none of them (<see cref="Repo.Index"/> only names packs the old index had and the store lacks, when it was loaded).
/// </summary>
public static class IndexRepair
{
    public static async Task<RepairResult> RunAsync(Repo repo, Action<string>? log, CancellationToken ct)
    {
        repo.RequireOwner("repairing the index");
        var oldSegments = new List<string>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Index, ct).ConfigureAwait(false))
        {
            oldSegments.Add(o.Name.Name);
        }
        PackScan scan = await PackScanner.ScanAsync(repo, log, ct).ConfigureAwait(false);
        var dropped = repo.Index.Packs.Where(p => !scan.Packs.ContainsKey(p.Id) && !scan.NeedThaw.Any(n => n.Name.Name == p.Id.ToString()))
            .Select(p => p.ObjectName.Path).ToList();
        if (scan.NeedThaw.Count > 0)
        {
            return new RepairResult(scan, null, 0, dropped);
        }
        var list = scan.Packs.Values.OrderBy(p => p.Id.ToString(), StringComparer.Ordinal).ToList();
        string? segment = list.Count > 0 ? await repo.WriteIndexSegmentAsync(list, ct).ConfigureAwait(false) : null;
        int removed = 0;
        foreach (string old in oldSegments)
        {
            if (old != segment)
            {
                await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Index, old), ct).ConfigureAwait(false);
                removed++;
            }
        }
        return new RepairResult(scan, segment, removed, dropped);
    }
}
