using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Sources.Buckets;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>One problem check found: what, where, and what to run.</summary>
/// <param name="Note">Not damage: something harmless that a maintenance command tidies up (an orphan upload).</param>
public sealed record CheckFinding(string Object, string Problem, string Advice, bool Note = false);

/// <param name="Points">Bucket restoration points found (damaged ones included).</param>
public sealed record CheckResult(int Snapshots, int Trees, long Blobs, int PacksRead, IReadOnlyList<CheckFinding> Findings, int Points = 0)
{
    public bool Ok => !Findings.Any(f => !f.Note);
    public int Problems => Findings.Count(f => !f.Note);
}

/// <summary>
/// Structural check from warm data only: every snapshot's trees load, every blob they name is in the index,
/// every indexed pack and its catalog exist, every bucket restoration point's header opens. With <c>readData</c> every
/// pack is read whole, its SHA-256 compared with its name, and every blob authenticated and verified; damaged blobs are
/// traced to the files that use them; every point is hashed against its name and all its frames opened.
/// </summary>
public sealed class Checker(Repo repo)
{
    private readonly List<CheckFinding> _findings = [];

    /// <param name="readPack">With <paramref name="readData"/>: which packs to read (null: all), for --read-data-subset.</param>
    public async Task<CheckResult> RunAsync(bool readData, Action<string>? log, CancellationToken ct, Func<PackRecord, bool>? readPack = null)
    {
        var snapshots = await repo.ListSnapshotsAsync(ct).ConfigureAwait(false);
        var seenTrees = new HashSet<BlobId>();
        var usedBlobs = new Dictionary<BlobId, string>();

        // Packs and catalogs exist.
        var data = new Dictionary<string, ObjectInfo>();
        await foreach (var o in repo.Store.ListAsync(ObjectKind.Data, ct).ConfigureAwait(false))
        {
            data[o.Name.Name] = o;
        }
        await foreach (var o in repo.Store.ListAsync(ObjectKind.Tree, ct).ConfigureAwait(false))
        {
            data[o.Name.Name] = o;
        }
        var catalogs = new HashSet<string>();
        await foreach (var o in repo.Store.ListAsync(ObjectKind.Catalogs, ct).ConfigureAwait(false))
        {
            catalogs.Add(o.Name.Name);
        }
        foreach (PackRecord p in repo.Index.Packs)
        {
            string id = p.Id.ToString();
            if (!data.TryGetValue(id, out ObjectInfo? info))
            {
                _findings.Add(new CheckFinding(p.ObjectName.Path, "pack is in the index but missing from the store", "run strata repair index (drops it from the index), then strata check again to see which snapshots lost files; back them up again"));
            }
            else if (info.Length != p.Length)
            {
                _findings.Add(new CheckFinding(p.ObjectName.Path, $"pack is {info.Length} bytes, the index says {p.Length} (truncated?)", "run strata check --read-data to see which files are affected"));
            }
            if (!catalogs.Contains(id))
            {
                _findings.Add(new CheckFinding($"catalogs/{id}", "warm catalog copy is missing", "the pack is still readable; strata repair index rewrites the catalog from the pack's tail"));
            }
            else if (repo.PackCatalogs.TryGetValue(p.Id, out var indexed))
            {
                await CompareCatalogAsync(p, indexed, ct).ConfigureAwait(false);
            }
        }
        foreach (var id in data.Keys.Where(k => BlobId.TryParse(k, out BlobId b) && !repo.Index.HasPack(b)))
        {
            bool purging = repo.Deletions.Any(d => d.Record.Packs.Contains(id));
            if (!purging)
            {
                _findings.Add(new CheckFinding($"{(data[id].Name.Kind == ObjectKind.Tree ? "tree" : "data")}/{id}", catalogs.Contains(id) ? "pack has a catalog but is in no index" : "orphan pack: no catalog and in no index (an upload an interrupted run never finished)",
                    catalogs.Contains(id) ? "run strata repair index to index it" : "harmless; strata prune lists it and strata purge deletes it", Note: !catalogs.Contains(id)));
            }
        }

        foreach (SnapshotRef s in snapshots)
        {
            log?.Invoke($"snapshot {s.ShortId}");
            await CheckTreeAsync(BlobId.Parse(s.Snapshot.Tree), "", s, seenTrees, usedBlobs, ct).ConfigureAwait(false);
        }

        int points = await CheckPointsAsync(readData, log, ct).ConfigureAwait(false);

        int packsRead = 0;
        if (readData)
        {
            foreach (PackRecord p in repo.Index.Packs)
            {
                ct.ThrowIfCancellationRequested();
                if (!data.ContainsKey(p.Id.ToString()) || (readPack is not null && !readPack(p)))
                {
                    continue;
                }
                log?.Invoke($"reading {p.ObjectName.Path}");
                await ReadPackAsync(p, usedBlobs, ct).ConfigureAwait(false);
                packsRead++;
            }
        }
        return new CheckResult(snapshots.Count, seenTrees.Count, usedBlobs.Count, packsRead, _findings, points);
    }

    /// <summary>
    /// points/: every header opens (it is warm and sealed with the index key). With <paramref name="readData"/> each point
    /// is read through once: every frame opened, the entries counted against the header and its SHA-256 compared with its name.
    /// Returns how many points there are.
    /// </summary>
    private async Task<int> CheckPointsAsync(bool readData, Action<string>? log, CancellationToken ct)
    {
        var damaged = new List<string>();
        var points = await BucketPoints.ListAsync(repo, ct, damaged).ConfigureAwait(false);
        foreach (string message in damaged)
        {
            AddPointFinding(message);
        }
        if (readData)
        {
            foreach (BucketPointRef p in points)
            {
                log?.Invoke($"reading {p.Name.Path}");
                try
                {
                    // One pass: the frames are opened and counted while every byte up to the header is hashed.
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    long keys = 0, bytes = 0;
                    await foreach (BucketEntry e in BucketPoints.ReadEntriesAsync(repo, p, ct, hash).ConfigureAwait(false))
                    {
                        keys++;
                        bytes += e.Size;
                    }
                    byte[] tail = new byte[p.Length - p.FramesEnd];
                    await repo.Store.ReadAsync(p.Name, p.FramesEnd, tail, ct).ConfigureAwait(false);
                    hash.AppendData(tail);
                    if (Convert.ToHexStringLower(hash.GetHashAndReset()) != p.Id)
                    {
                        AddPointFinding($"{p.Name.Path}: content does not match its name (SHA-256): damaged");
                    }
                    else if (keys != p.Header.Keys || bytes != p.Header.Bytes)
                    {
                        AddPointFinding($"{p.Name.Path}: holds {keys} keys of {bytes} bytes, its header says {p.Header.Keys} of {p.Header.Bytes}");
                    }
                }
                catch (Exception e) when (e is CorruptionException or StoreException)
                {
                    AddPointFinding(e.Message);
                }
            }
        }
        return points.Count + damaged.Count;
    }

    /// <summary>A damaged point: its messages start with "points/ID: ".</summary>
    private void AddPointFinding(string message)
    {
        int colon = message.StartsWith("points/", StringComparison.Ordinal) ? message.IndexOf(": ", StringComparison.Ordinal) : -1;
        string name = colon > 0 ? message[..colon] : "points/";
        string problem = colon > 0 ? message[(colon + 2)..] : message;
        string id = name.Length > "points/".Length ? name["points/".Length..] : "ID";
        _findings.Add(new CheckFinding(name, problem,
            $"this restoration point cannot put its bucket back, and bucket gc no longer keeps the versions only it needed (the bucket itself is untouched); take a new one with strata bucket snapshot, then remove this one with strata bucket forget {id[..Math.Min(12, id.Length)]}"));
    }

    /// <summary>The warm catalog must list exactly the blobs (ids, offsets, lengths) the index has for the pack.</summary>
    private async Task CompareCatalogAsync(PackRecord p, IndexSegment.PackEntries indexed, CancellationToken ct)
    {
        var name = new ObjectName(ObjectKind.Catalogs, p.Id.ToString());
        List<CatalogEntry> entries;
        try
        {
            byte[] tail = await repo.ReadWholeAsync(name, ct).ConfigureAwait(false);
            entries = PackCodec.ParseTail(tail, repo.Keys.IndexKey, name.Path).Entries;
        }
        catch (CorruptionException e)
        {
            _findings.Add(new CheckFinding(name.Path, e.Message, "run strata repair index (it reads the pack's own tail when the catalog is damaged: delete the damaged catalog first)"));
            return;
        }
        if (entries.Count != indexed.Entries.Count || !entries.OrderBy(e => e.Offset).SequenceEqual(indexed.Entries.OrderBy(e => e.Offset)))
        {
            _findings.Add(new CheckFinding(name.Path, $"the catalog lists {entries.Count} blobs and the index {indexed.Entries.Count} for this pack, and they differ", "run strata repair index to rebuild the index from the catalogs"));
        }
    }

    private async Task CheckTreeAsync(BlobId id, string prefix, SnapshotRef s, HashSet<BlobId> seen, Dictionary<BlobId, string> used, CancellationToken ct)
    {
        if (!seen.Add(id))
        {
            return;
        }
        if (!repo.Index.Contains(id))
        {
            _findings.Add(new CheckFinding($"tree {id.Short} ({(prefix.Length == 0 ? "/" : prefix)}, snapshot {s.ShortId})", "tree blob is not in the index", "the snapshot is incomplete; forget it or run strata recover"));
            return;
        }
        used.TryAdd(id, prefix.Length == 0 ? "/" : prefix);
        Tree t;
        try
        {
            t = await repo.LoadTreeAsync(id, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is CorruptionException or StoreException)
        {
            _findings.Add(new CheckFinding($"tree {id.Short} ({prefix}, snapshot {s.ShortId})", e.Message, "the snapshot is incomplete below this folder"));
            return;
        }
        foreach (Node n in t.Nodes)
        {
            string path = prefix + "/" + n.DisplayName;
            foreach (BlobId b in n.Content)
            {
                if (!repo.Index.Contains(b))
                {
                    _findings.Add(new CheckFinding($"blob {b.Short}", $"data of {path} (snapshot {s.ShortId}) is not in the index", "the file cannot be restored from this snapshot"));
                }
                used.TryAdd(b, path);
            }
            if (n.Subtree is { } sub)
            {
                await CheckTreeAsync(sub, path, s, seen, used, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The pack's catalog: as loaded with the index (keepCatalogs), else its warm copy; empty when neither can be read (reported elsewhere).</summary>
    private async Task<IReadOnlyList<CatalogEntry>> CatalogOfAsync(PackRecord p, CancellationToken ct)
    {
        if (repo.PackCatalogs.TryGetValue(p.Id, out var loaded))
        {
            return loaded.Entries;
        }
        var name = new ObjectName(ObjectKind.Catalogs, p.Id.ToString());
        try
        {
            byte[] tail = await repo.ReadWholeAsync(name, ct).ConfigureAwait(false);
            return PackCodec.ParseTail(tail, repo.Keys.IndexKey, name.Path).Entries;
        }
        catch (Exception e) when (e is CorruptionException or StoreException)
        {
            _findings.Add(new CheckFinding(p.ObjectName.Path, $"its blobs were not read: {e.Message}", "strata repair index rewrites the catalog from the pack's tail"));
            return [];
        }
    }

    private async Task ReadPackAsync(PackRecord p, Dictionary<BlobId, string> used, CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            bytes = await repo.ReadWholeAsync(p.ObjectName, ct).ConfigureAwait(false);
        }
        catch (ObjectFrozenException e)
        {
            _findings.Add(new CheckFinding(p.ObjectName.Path, e.Message, "thaw it first (strata restore plans thaws)"));
            return;
        }
        // The blobs the index reads from this pack (a blob stored twice is checked where restores read it).
        var entries = (await CatalogOfAsync(p, ct).ConfigureAwait(false))
            .Where(e => repo.Index.TryGet(e.Id, out IndexEntry ie) && ie.Pack == p.Number)
            .OrderBy(e => e.Offset)
            .ToList();
        if (BlobId.Read(SHA256.HashData(bytes)) != p.Id)
        {
            _findings.Add(new CheckFinding(p.ObjectName.Path, "pack content does not match its name (SHA-256): it is damaged", "files listed below may not restore"));
        }
        byte[]? key = null;
        try
        {
            PackTrailer t = PackTrailer.Read(bytes.AsSpan(bytes.Length - PackTrailer.Size), p.ObjectName.Path);
            key = KeyWrap.Unwrap(repo.Keys.PrivateKey ?? throw new WriterKeyException("check --read-data"), t.WrappedKey);
        }
        catch (CorruptionException e)
        {
            _findings.Add(new CheckFinding(p.ObjectName.Path, e.Message, "the pack's trailer is damaged; its blobs are read with the key from the warm catalog"));
        }
        if (key is null)
        {
            try
            {
                await repo.ReadBlobAsync(entries.FirstOrDefault().Id, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is CorruptionException or StoreException)
            {
                _findings.Add(new CheckFinding(p.ObjectName.Path, "the pack key cannot be recovered", "every blob in this pack is unreadable"));
                return;
            }
        }
        using var aead = key is null ? null : new Aead(key);
        foreach (CatalogEntry e in entries)
        {
            try
            {
                if (e.Offset + e.StoredLength > bytes.Length)
                {
                    throw new CorruptionException($"{p.ObjectName.Path}: blob {e.Id.Short} lies past the end of the pack (truncated)");
                }
                if (aead is not null)
                {
                    PackCodec.OpenBlob(bytes.AsSpan((int)e.Offset, e.StoredLength), e, aead, repo.Keys, p.ObjectName.Path);
                }
            }
            catch (CorruptionException ex)
            {
                string who = used.TryGetValue(e.Id, out string? path) ? $"; used by {path}" : "; not used by any snapshot";
                _findings.Add(new CheckFinding(p.ObjectName.Path, ex.Message + who, "that file cannot be restored from this pack; back it up again if you still have it"));
            }
        }
    }
}
