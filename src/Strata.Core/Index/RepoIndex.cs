using System.Buffers.Binary;
using System.Collections.Concurrent;
using Strata.Crypto;
using Strata.Packs;
using Strata.Repository;

namespace Strata.Index;

/// <summary>A pack the index knows. <see cref="Number"/> is its position in the in-memory pack table.</summary>
public sealed record PackRecord(int Number, BlobId Id, PackKind Kind, long Length)
{
    public Stores.ObjectName ObjectName => new(Kind == PackKind.Tree ? Stores.ObjectKind.Tree : Stores.ObjectKind.Data, Id.ToString());
}

/// <summary>Where a blob lives: 24 bytes (pack number, offset, lengths, kind and compression flag).</summary>
public readonly record struct IndexEntry(int Pack, long Offset, int StoredLength, int RawLength, BlobKind Kind, bool Compressed)
{
    public CatalogEntry ToCatalogEntry(BlobId id) => new(id, Kind, Compressed, Offset, StoredLength, RawLength);
}

/// <summary>
/// The in-memory index: blob id to location, for every pack the repository's index segments and catalogs
/// name. Memory: a dictionary entry per blob (32-byte key + 24-byte value + ~16 bytes of table overhead,
/// about 72 bytes per blob; DESIGN.md's 40-byte target needs a sorted array, left for later).
/// Band-record packs are listed (so check and purge know them) but their blobs are not looked up: trees
/// are read from warm tree packs. Thread-safe for concurrent Add and lookup.
/// </summary>
public sealed class RepoIndex
{
    private readonly ConcurrentDictionary<BlobId, IndexEntry> _blobs = new();
    private readonly List<PackRecord> _packs = [];
    private readonly Dictionary<BlobId, PackRecord> _packById = [];
    private readonly Lock _lock = new();

    public int BlobCount => _blobs.Count;

    public IReadOnlyList<PackRecord> Packs
    {
        get
        {
            lock (_lock)
            {
                return [.. _packs];
            }
        }
    }

    public bool Contains(BlobId id) => _blobs.ContainsKey(id);

    public bool TryGet(BlobId id, out IndexEntry entry) => _blobs.TryGetValue(id, out entry);

    public PackRecord PackOf(IndexEntry e)
    {
        lock (_lock)
        {
            return _packs[e.Pack];
        }
    }

    public PackRecord? FindPack(BlobId packId)
    {
        lock (_lock)
        {
            return _packById.GetValueOrDefault(packId);
        }
    }

    public bool HasPack(BlobId packId) => FindPack(packId) is not null;

    /// <summary>Adds a pack and its blobs. A blob already present in a warm pack keeps that location.</summary>
    public PackRecord AddPack(BlobId packId, PackKind kind, long length, IEnumerable<CatalogEntry> entries)
    {
        PackRecord rec;
        lock (_lock)
        {
            if (_packById.TryGetValue(packId, out PackRecord? existing))
            {
                return existing;
            }
            rec = new PackRecord(_packs.Count, packId, kind, length);
            _packs.Add(rec);
            _packById[packId] = rec;
        }
        if (kind == PackKind.Band)
        {
            return rec;
        }
        foreach (CatalogEntry e in entries)
        {
            _blobs.TryAdd(e.Id, new IndexEntry(rec.Number, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed));
        }
        return rec;
    }

    /// <summary>All blobs of one pack, in pack order (rebuilt from the table; used for segments and checks).</summary>
    public Dictionary<int, List<CatalogEntry>> EntriesByPack()
    {
        var map = new Dictionary<int, List<CatalogEntry>>();
        foreach (var kv in _blobs)
        {
            if (!map.TryGetValue(kv.Value.Pack, out var list))
            {
                map[kv.Value.Pack] = list = [];
            }
            list.Add(kv.Value.ToCatalogEntry(kv.Key));
        }
        foreach (var list in map.Values)
        {
            list.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        }
        return map;
    }
}

/// <summary>
/// index/&lt;id&gt;: a sealed list of packs with their catalog entries (docs/format.md §10). Sealed with the index key so
/// writers can read it to deduplicate. The id is the SHA-256 of the stored bytes.
/// Version 2 (written): "STRIDX02", i32 pack count n, i32 entry count m, then one zstd frame of the n 45-byte pack
/// headers (id, kind, length, i32 entry count) followed by the m entries in <see cref="CatalogColumns"/> layout.
/// Version 1 (read): "STRIDX01", i32 pack count, then per pack its 45-byte header and its 52-byte entries.
/// </summary>
public static class IndexSegment
{
    private const int PackHeaderSize = 45;
    private static ReadOnlySpan<byte> MagicV1 => "STRIDX01"u8;
    private static ReadOnlySpan<byte> MagicV2 => "STRIDX02"u8;
    private static ReadOnlySpan<byte> Aad => "strata index v1"u8;

    public sealed record PackEntries(BlobId Id, PackKind Kind, long Length, IReadOnlyList<CatalogEntry> Entries);

    public static byte[] Seal(IReadOnlyList<PackEntries> packs, byte[] indexKey)
    {
        long entries = 0;
        foreach (var p in packs)
        {
            entries += p.Entries.Count;
        }
        long size = (packs.Count * (long)PackHeaderSize) + (entries * CatalogEntry.Size);
        if (size > CatalogColumns.MaxBytes)
        {
            throw new InvalidOperationException($"an index segment of {packs.Count} packs and {entries} entries is too large; write several");
        }
        byte[] body = new byte[size];
        int at = 0;
        foreach (var p in packs)
        {
            p.Id.Write(body.AsSpan(at));
            body[at + 32] = (byte)p.Kind;
            BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(at + 33), p.Length);
            BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(at + 41), p.Entries.Count);
            at += PackHeaderSize;
        }
        CatalogColumns.Write(packs.Select(p => p.Entries).ToList(), body.AsSpan(at));
        byte[] frame = CatalogColumns.Compress(body);
        byte[] plain = new byte[16 + frame.Length];
        MagicV2.CopyTo(plain);
        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(8), packs.Count);
        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(12), (int)entries);
        frame.CopyTo(plain, 16);
        using var aead = new Aead(indexKey);
        return aead.Seal(plain, Aad);
    }

    public static List<PackEntries> Open(ReadOnlySpan<byte> sealedSegment, byte[] indexKey, string where)
    {
        using var aead = new Aead(indexKey);
        byte[] plain = aead.TryOpen(sealedSegment, Aad) ?? throw new CorruptionException($"{where}: index segment fails authentication (damaged)");
        if (plain.Length >= 16 && plain.AsSpan(0, 8).SequenceEqual(MagicV2))
        {
            return OpenV2(plain, where);
        }
        if (plain.Length < 12 || !plain.AsSpan(0, 8).SequenceEqual(MagicV1))
        {
            throw new CorruptionException($"{where}: not an index segment");
        }
        int n = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(8));
        var result = new List<PackEntries>(Math.Clamp(n, 0, 1 << 16));
        int at = 12;
        try
        {
            for (int i = 0; i < n; i++)
            {
                var id = BlobId.Read(plain.AsSpan(at));
                var kind = (PackKind)plain[at + 32];
                long length = BinaryPrimitives.ReadInt64LittleEndian(plain.AsSpan(at + 33));
                int count = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(at + 41));
                at += PackHeaderSize;
                var entries = new List<CatalogEntry>(count);
                for (int j = 0; j < count; j++)
                {
                    entries.Add(CatalogEntry.Read(plain.AsSpan(at)));
                    at += CatalogEntry.Size;
                }
                result.Add(new PackEntries(id, kind, length, entries));
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new CorruptionException($"{where}: index segment is truncated");
        }
        return result;
    }

    private static List<PackEntries> OpenV2(byte[] plain, string where)
    {
        int n = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(8));
        int m = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(12));
        long size = (n * (long)PackHeaderSize) + (m * (long)CatalogEntry.Size);
        if (n < 0 || m < 0 || size > CatalogColumns.MaxBytes)
        {
            throw new CorruptionException($"{where}: index segment has impossible counts ({n} packs, {m} entries)");
        }
        byte[] body = CatalogColumns.Decompress(plain.AsSpan(16), (int)size, where, "index segment");
        var counts = new int[n];
        long total = 0;
        for (int i = 0; i < n; i++)
        {
            counts[i] = BinaryPrimitives.ReadInt32LittleEndian(body.AsSpan((i * PackHeaderSize) + 41));
            total += counts[i];
            if (counts[i] < 0)
            {
                throw new CorruptionException($"{where}: index segment lists a pack with {counts[i]} entries");
            }
        }
        if (total != m)
        {
            throw new CorruptionException($"{where}: index segment's packs list {total} entries, its header says {m}");
        }
        var all = new List<CatalogEntry>(m);
        CatalogColumns.Read(body.AsSpan(n * PackHeaderSize), counts, all);
        var result = new List<PackEntries>(n);
        int first = 0;
        for (int i = 0; i < n; i++)
        {
            int at = i * PackHeaderSize;
            result.Add(new PackEntries(
                BlobId.Read(body.AsSpan(at)),
                (PackKind)body[at + 32],
                BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(at + 33)),
                all.GetRange(first, counts[i])));
            first += counts[i];
        }
        return result;
    }
}
