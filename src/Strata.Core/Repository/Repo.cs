using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Repository;

/// <summary>A snapshot with its object id.</summary>
public sealed record SnapshotRef(string Id, Snapshot Snapshot)
{
    public string ShortId => Id[..8];
}

/// <summary>
/// An open repository: store, config, keys and the in-memory index. All reads of warm metadata go through here;
/// nothing here ever reads a cold object except <see cref="ReadBlobAsync"/> for data blobs.
/// </summary>
public sealed class Repo : IAsyncDisposable
{
    private readonly ConcurrentDictionary<BlobId, byte[]> _packKeys = new();
    private readonly Dictionary<BlobId, IndexSegment.PackEntries> _unsegmentedPacks = [];

    private Repo(IStore store, RepoConfig config, MasterKeys keys, TimeProvider clock)
    {
        Store = store;
        Config = config;
        Keys = keys;
        Clock = clock;
        Chunker = new Chunking.FastCdc(keys.ChunkerKey, config.Chunker.MinSize, config.Chunker.AvgSize, config.Chunker.MaxSize);
    }

    public IStore Store { get; }
    public RepoConfig Config { get; }
    public MasterKeys Keys { get; }
    public TimeProvider Clock { get; }
    public RepoIndex Index { get; } = new();
    public Chunking.FastCdc Chunker { get; }
    public string Location => Store.Location;

    /// <summary>Packs added to the in-memory index that no index segment lists yet (recovered from catalogs of an interrupted run).</summary>
    public IReadOnlyCollection<BlobId> UnsegmentedPacks
    {
        get
        {
            lock (_unsegmentedPacks)
            {
                return [.. _unsegmentedPacks.Keys];
            }
        }
    }

    /// <summary>
    /// The full catalog of each unsegmented pack, as its catalog lists it: what the next index segment must say about it.
    /// (Not the index's view: a band pack's blobs are never indexed, and a blob also stored elsewhere may be indexed there.)
    /// </summary>
    public IReadOnlyList<IndexSegment.PackEntries> UnsegmentedPackEntries
    {
        get
        {
            lock (_unsegmentedPacks)
            {
                return [.. _unsegmentedPacks.Values];
            }
        }
    }

    public void RequireOwner(string what)
    {
        if (!Keys.CanRead)
        {
            throw new WriterKeyException(what);
        }
    }

    public static async Task<Repo> InitAsync(IStore store, string password, RepoConfig config, MasterKeys keys, TimeProvider clock, CancellationToken ct)
    {
        if (await store.StatAsync(ObjectName.Config, ct).ConfigureAwait(false) is not null)
        {
            throw new RepositoryFormatException($"a repository already exists at {store.Location}");
        }
        var keyFile = KeyFile.Create(keys, KeyRole.Owner, password, Environment.MachineName, Environment.UserName, clock.GetUtcNow());
        await WriteObjectAsync(store, ObjectKind.Keys, keyFile.ToBytes(), ct).ConfigureAwait(false);
        using (var ms = new MemoryStream(config.ToBytes()))
        {
            await store.WriteAsync(ObjectName.Config, ms, ct).ConfigureAwait(false);
        }
        return new Repo(store, config, keys, clock);
    }

    public static async Task<RepoConfig> ReadConfigAsync(IStore store, CancellationToken ct)
    {
        ObjectInfo? info = await store.StatAsync(ObjectName.Config, ct).ConfigureAwait(false)
            ?? throw new RepositoryNotFoundException(store.Location);
        byte[] bytes = new byte[info.Length];
        await store.ReadAsync(ObjectName.Config, 0, bytes, ct).ConfigureAwait(false);
        return RepoConfig.Parse(bytes, store.Location);
    }

    public static async Task<Repo> OpenAsync(IStore store, string password, TimeProvider clock, CancellationToken ct)
    {
        RepoConfig config = await ReadConfigAsync(store, ct).ConfigureAwait(false);
        var (keys, _) = await UnlockAsync(store, password, ct).ConfigureAwait(false);
        return new Repo(store, config, keys, clock);
    }

    /// <summary>Tries every key file with the password; owner keys are preferred over writer keys.</summary>
    public static async Task<(MasterKeys Keys, string KeyId)> UnlockAsync(IStore store, string password, CancellationToken ct)
    {
        var files = new List<(string Id, KeyFile File)>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Keys, ct).ConfigureAwait(false))
        {
            byte[] bytes = await ReadWholeAsync(store, o.Name, o.Length, ct).ConfigureAwait(false);
            files.Add((o.Name.Name, KeyFile.Parse(bytes, o.Name.Path)));
        }
        if (files.Count == 0)
        {
            throw new RepositoryFormatException($"{store.Location} has no key files: the repository is damaged or was never initialised");
        }
        foreach (var (id, file) in files.OrderBy(f => f.File.KeyRole))
        {
            MasterKeys? keys = file.TryOpen(password);
            if (keys is not null)
            {
                return (keys, id);
            }
        }
        throw new WrongPasswordException(store.Location);
    }

    public static async Task<string> WriteObjectAsync(IStore store, ObjectKind kind, byte[] bytes, CancellationToken ct)
    {
        string id = BlobId.Hash(bytes).ToString();
        using var ms = new MemoryStream(bytes, writable: false);
        await store.WriteAsync(new ObjectName(kind, id), ms, ct).ConfigureAwait(false);
        return id;
    }

    public Task<string> WriteObjectAsync(ObjectKind kind, byte[] bytes, CancellationToken ct) => WriteObjectAsync(Store, kind, bytes, ct);

    public static async Task<byte[]> ReadWholeAsync(IStore store, ObjectName name, long? length, CancellationToken ct)
    {
        long len = length ?? (await store.StatAsync(name, ct).ConfigureAwait(false))?.Length ?? throw new ObjectNotFoundException(store.Location, name);
        byte[] bytes = new byte[len];
        await store.ReadAsync(name, 0, bytes, ct).ConfigureAwait(false);
        return bytes;
    }

    public Task<byte[]> ReadWholeAsync(ObjectName name, CancellationToken ct) => ReadWholeAsync(Store, name, null, ct);

    // ---- index ----

    /// <summary>
    /// Loads every index segment, then indexes packs that have a catalog but no segment (left by an interrupted
    /// backup), so their blobs are reused. Warm reads only. Packs named by deletion records (docs/format.md §16): a
    /// pack a purge is deleting is left out entirely; a pack compaction superseded is added last, so its blobs are
    /// found in their new packs and in the old one only as a fallback. With <paramref name="keepCatalogs"/> every
    /// pack's full entry list is kept in <see cref="PackCatalogs"/> (maintenance needs duplicates too).
    /// </summary>
    public async Task LoadIndexAsync(CancellationToken ct, bool keepCatalogs = false)
    {
        Deletions = await Maintenance.DeletionRecords.ListAsync(Store, Keys.IndexKey, ct).ConfigureAwait(false);
        var purging = new HashSet<BlobId>();
        var superseded = new HashSet<BlobId>();
        foreach (var d in Deletions)
        {
            var set = d.Record.Reason == Maintenance.DeletionReason.Purge ? purging : superseded;
            foreach (string p in d.Record.Packs)
            {
                if (BlobId.TryParse(p, out BlobId id))
                {
                    set.Add(id);
                }
            }
        }

        var segments = new List<ObjectInfo>();
        await foreach (ObjectInfo o in Store.ListAsync(ObjectKind.Index, ct).ConfigureAwait(false))
        {
            segments.Add(o);
        }
        var late = new List<IndexSegment.PackEntries>();
        var segmentIds = new List<string>();
        Index.BeginBulkLoad();
        try
        {
            await LoadSegmentsAsync(segments, purging, superseded, late, segmentIds, keepCatalogs, ct).ConfigureAwait(false);
        }
        finally
        {
            Index.EndBulkLoad();
        }
        IndexSegments = segmentIds;

        var orphans = new List<ObjectInfo>();
        await foreach (ObjectInfo o in Store.ListAsync(ObjectKind.Catalogs, ct).ConfigureAwait(false))
        {
            if (BlobId.TryParse(o.Name.Name, out BlobId id) && !Index.HasPack(id) && !purging.Contains(id) && !superseded.Contains(id))
            {
                orphans.Add(o);
            }
        }
        foreach (ObjectInfo o in orphans)
        {
            var id = BlobId.Parse(o.Name.Name);
            byte[] tail = await ReadWholeAsync(Store, o.Name, o.Length, ct).ConfigureAwait(false);
            var (trailer, entries) = PackCodec.ParseTail(tail, Keys.IndexKey, o.Name.Path);
            ObjectName packName = new(trailer.Kind == PackKind.Tree ? ObjectKind.Tree : ObjectKind.Data, o.Name.Name);
            ObjectInfo? pack = await Store.StatAsync(packName, ct).ConfigureAwait(false);
            if (pack is null)
            {
                continue; // catalog without its pack: the upload never finished; check reports it
            }
            Index.AddPack(id, trailer.Kind, pack.Length, entries);
            if (keepCatalogs)
            {
                PackCatalogs.TryAdd(id, new IndexSegment.PackEntries(id, trailer.Kind, pack.Length, entries));
            }
            lock (_unsegmentedPacks)
            {
                _unsegmentedPacks[id] = new IndexSegment.PackEntries(id, trailer.Kind, pack.Length, entries);
            }
        }
        foreach (var p in late.OrderBy(p => p.Id.ToString(), StringComparer.Ordinal))
        {
            Index.AddPack(p.Id, p.Kind, p.Length, p.Entries);
            if (keepCatalogs)
            {
                PackCatalogs.TryAdd(p.Id, p);
            }
        }
    }

    private Task LoadSegmentsAsync(List<ObjectInfo> segments, HashSet<BlobId> purging, HashSet<BlobId> superseded,
        List<IndexSegment.PackEntries> late, List<string> segmentIds, bool keepCatalogs, CancellationToken ct) =>
        Parallel.ForEachAsync(segments, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (o, c) =>
        {
            byte[] bytes = await ReadWholeAsync(Store, o.Name, o.Length, c).ConfigureAwait(false);
            foreach (var p in IndexSegment.Open(bytes, Keys.IndexKey, o.Name.Path))
            {
                if (purging.Contains(p.Id))
                {
                    continue;
                }
                if (superseded.Contains(p.Id))
                {
                    lock (late)
                    {
                        late.Add(p);
                    }
                    continue;
                }
                Index.AddPack(p.Id, p.Kind, p.Length, p.Entries);
                if (keepCatalogs)
                {
                    lock (PackCatalogs)
                    {
                        PackCatalogs.TryAdd(p.Id, p);
                    }
                }
            }
            lock (segmentIds)
            {
                segmentIds.Add(o.Name.Name);
            }
        });

    /// <summary>Deletion records found by <see cref="LoadIndexAsync"/>, oldest first.</summary>
    public IReadOnlyList<Maintenance.DeletionRecordRef> Deletions { get; private set; } = [];

    /// <summary>The index segments <see cref="LoadIndexAsync"/> read (object ids).</summary>
    public IReadOnlyList<string> IndexSegments { get; private set; } = [];

    /// <summary>With LoadIndexAsync(keepCatalogs: true): every indexed pack's complete catalog.</summary>
    public Dictionary<BlobId, IndexSegment.PackEntries> PackCatalogs { get; } = [];

    // ---- blobs ----

    private async Task<byte[]> PackKeyAsync(PackRecord pack, CancellationToken ct)
    {
        if (_packKeys.TryGetValue(pack.Id, out byte[]? key))
        {
            return key;
        }
        byte[] priv = Keys.PrivateKey ?? throw new WriterKeyException("reading backup contents");
        byte[] trailer = new byte[PackTrailer.Size];
        // The trailer is at the end of both the pack and its warm catalog copy: read the warm one, never a cold pack.
        var catName = new ObjectName(ObjectKind.Catalogs, pack.Id.ToString());
        ObjectInfo? cat = pack.Kind == PackKind.Tree ? null : await Store.StatAsync(catName, ct).ConfigureAwait(false);
        if (cat is not null)
        {
            await Store.ReadAsync(catName, cat.Length - PackTrailer.Size, trailer, ct).ConfigureAwait(false);
        }
        else
        {
            await Store.ReadAsync(pack.ObjectName, pack.Length - PackTrailer.Size, trailer, ct).ConfigureAwait(false);
        }
        PackTrailer t = PackTrailer.Read(trailer, pack.ObjectName.Path);
        key = KeyWrap.Unwrap(priv, t.WrappedKey) ?? throw new CorruptionException($"{pack.ObjectName.Path}: the pack key does not open (damaged trailer)");
        _packKeys[pack.Id] = key;
        return key;
    }

    /// <summary>Reads, authenticates, decompresses and verifies one blob. Throws <see cref="CorruptionException"/> naming the pack.</summary>
    public async Task<byte[]> ReadBlobAsync(BlobId id, CancellationToken ct)
    {
        if (!Index.TryGet(id, out IndexEntry e))
        {
            throw new CorruptionException($"blob {id.Short} is not in the index (run strata check)");
        }
        PackRecord pack = Index.PackOf(e);
        byte[] key = await PackKeyAsync(pack, ct).ConfigureAwait(false);
        byte[] sealedBlob = new byte[e.StoredLength];
        await Store.ReadAsync(pack.ObjectName, e.Offset, sealedBlob, ct).ConfigureAwait(false);
        using var aead = new Aead(key);
        return PackCodec.OpenBlob(sealedBlob, e.ToCatalogEntry(id), aead, Keys, pack.ObjectName.Path);
    }

    /// <summary>
    /// Like <see cref="ReadBlobAsync"/> with pooled buffers (<see cref="BlobBuffers"/>), for the restore's hot loop: the
    /// caller disposes the result to return its buffer. Same checks and errors.
    /// </summary>
    public async Task<PooledBlob> ReadBlobPooledAsync(BlobId id, CancellationToken ct)
    {
        if (!Index.TryGet(id, out IndexEntry e))
        {
            throw new CorruptionException($"blob {id.Short} is not in the index (run strata check)");
        }
        PackRecord pack = Index.PackOf(e);
        byte[] key = await PackKeyAsync(pack, ct).ConfigureAwait(false);
        byte[]? sealedBlob = BlobBuffers.Pool.Rent(e.StoredLength);
        byte[]? plain = null;
        try
        {
            await Store.ReadAsync(pack.ObjectName, e.Offset, sealedBlob.AsMemory(0, e.StoredLength), ct).ConfigureAwait(false);
            // Decrypted in place: a raw blob's plaintext is then the sealed buffer past the nonce, and a compressed one
            // needs only one more buffer for its decompressed bytes.
            if (e.Compressed)
            {
                plain = BlobBuffers.Pool.Rent(e.RawLength);
            }
            int n = PackCodec.OpenBlobInPlace(sealedBlob.AsSpan(0, e.StoredLength), e.ToCatalogEntry(id), AeadForThread(key), Keys, pack.ObjectName.Path, plain);
            PooledBlob blob;
            if (plain is null)
            {
                blob = new PooledBlob(sealedBlob, Aead.NonceSize, n);
                sealedBlob = null;
            }
            else
            {
                blob = new PooledBlob(plain, 0, n);
                plain = null;
            }
            return blob;
        }
        finally
        {
            if (sealedBlob is not null)
            {
                BlobBuffers.Pool.Return(sealedBlob);
            }
            if (plain is not null)
            {
                BlobBuffers.Pool.Return(plain);
            }
        }
    }

    // One AES-GCM context per thread for the pack it read last: blobs of one pack are read one after another, and
    // setting up a context (key schedule, OpenSSL state) per blob is measurable in a restore of many small files.
    [ThreadStatic]
    private static (byte[] Key, Aead Aead)? t_aead;

    private static Aead AeadForThread(byte[] key)
    {
        if (t_aead is { } cached && ReferenceEquals(cached.Key, key))
        {
            return cached.Aead;
        }
        t_aead?.Aead.Dispose();
        var aead = new Aead(key);
        t_aead = (key, aead);
        return aead;
    }

    public async Task<Tree> LoadTreeAsync(BlobId id, CancellationToken ct)
    {
        RequireOwner("reading snapshot contents");
        byte[] data = await ReadBlobAsync(id, ct).ConfigureAwait(false);
        return Tree.Decode(data, $"tree {id.Short}");
    }

    // ---- snapshots ----

    public async IAsyncEnumerable<(string Id, byte[] Bytes)> ReadSnapshotObjectsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (ObjectInfo o in Store.ListAsync(ObjectKind.Snapshots, ct).ConfigureAwait(false))
        {
            yield return (o.Name.Name, await ReadWholeAsync(Store, o.Name, o.Length, ct).ConfigureAwait(false));
        }
    }

    /// <summary>Every snapshot header (readable with a writer key): time, source, version.</summary>
    public async Task<List<(string Id, SnapshotHeader Header)>> ListSnapshotHeadersAsync(CancellationToken ct)
    {
        var list = new List<(string, SnapshotHeader)>();
        await foreach (var (id, bytes) in ReadSnapshotObjectsAsync(ct).ConfigureAwait(false))
        {
            list.Add((id, SnapshotCodec.OpenHeader(bytes, Keys, $"snapshots/{id}")));
        }
        return list;
    }

    /// <summary>Every snapshot, oldest first. Needs the owner key.</summary>
    public async Task<List<SnapshotRef>> ListSnapshotsAsync(CancellationToken ct)
    {
        RequireOwner("listing snapshots");
        var list = new List<SnapshotRef>();
        await foreach (var (id, bytes) in ReadSnapshotObjectsAsync(ct).ConfigureAwait(false))
        {
            list.Add(new SnapshotRef(id, SnapshotCodec.OpenBody(bytes, Keys, $"snapshots/{id}")));
        }
        list.Sort((a, b) => a.Snapshot.Time.CompareTo(b.Snapshot.Time));
        return list;
    }

    /// <summary>Finds a snapshot by "latest" or a unique id prefix.</summary>
    public async Task<SnapshotRef> FindSnapshotAsync(string spec, CancellationToken ct)
    {
        var all = await ListSnapshotsAsync(ct).ConfigureAwait(false);
        if (all.Count == 0)
        {
            throw new UserInputException($"{Location} has no snapshots yet");
        }
        if (spec == "latest")
        {
            return all[^1];
        }
        var matches = all.Where(s => s.Id.StartsWith(spec, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UserInputException($"no snapshot with id '{spec}' in {Location}"),
            _ => throw new UserInputException($"snapshot id prefix '{spec}' is ambiguous: it matches {string.Join(", ", matches.Select(m => m.ShortId))}"),
        };
    }

    public Task<string> WriteSnapshotAsync(Snapshot snapshot, CancellationToken ct) =>
        WriteObjectAsync(ObjectKind.Snapshots, SnapshotCodec.Seal(snapshot, Keys), ct);

    public async Task<string> WriteIndexSegmentAsync(IReadOnlyList<IndexSegment.PackEntries> packs, CancellationToken ct)
    {
        string id = await WriteObjectAsync(ObjectKind.Index, IndexSegment.Seal(packs, Keys.IndexKey), ct).ConfigureAwait(false);
        lock (_unsegmentedPacks)
        {
            foreach (var p in packs)
            {
                _unsegmentedPacks.Remove(p.Id);
            }
        }
        return id;
    }

    public ValueTask DisposeAsync() => Store.DisposeAsync();
}

/// <summary>No repository at the location.</summary>
public sealed class RepositoryNotFoundException : Exception
{
    public RepositoryNotFoundException(string location)
        : base($"no repository at {location} (no config object); create one with 'strata init'") { }
}

/// <summary>The user asked for something that cannot be done as asked; the message says what and why.</summary>
public sealed class UserInputException : Exception
{
    public UserInputException(string message) : base(message) { }
}

/// <summary>A blob's plaintext in a pooled buffer; dispose to return the buffer.</summary>
public sealed class PooledBlob : IDisposable
{
    private byte[]? _buffer;

    private readonly int _offset;

    internal PooledBlob(byte[] buffer, int offset, int length)
    {
        _buffer = buffer;
        _offset = offset;
        Length = length;
    }

    public int Length { get; }

    public ReadOnlyMemory<byte> Memory => (_buffer ?? throw new ObjectDisposedException(nameof(PooledBlob))).AsMemory(_offset, Length);

    public ReadOnlySpan<byte> Span => Memory.Span;

    public void Dispose()
    {
        if (_buffer is { } b)
        {
            _buffer = null;
            BlobBuffers.Pool.Return(b);
        }
    }
}
