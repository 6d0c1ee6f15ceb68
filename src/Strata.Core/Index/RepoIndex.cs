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
/// index/&lt;id&gt;: a sealed list of packs with their catalog entries (docs/format.md). Sealed with the index key so
/// writers can read it to deduplicate. The id is the SHA-256 of the stored bytes.
/// Plaintext: "STRIDX01", u32 pack count, then per pack: id (32), kind (u8), length (i64), u32 entry count, entries.
/// </summary>
public static class IndexSegment
{
    private static ReadOnlySpan<byte> Magic => "STRIDX01"u8;
    private static ReadOnlySpan<byte> Aad => "strata index v1"u8;

    public sealed record PackEntries(BlobId Id, PackKind Kind, long Length, IReadOnlyList<CatalogEntry> Entries);

    public static byte[] Seal(IReadOnlyList<PackEntries> packs, byte[] indexKey)
    {
        long size = 12;
        foreach (var p in packs)
        {
            size += 32 + 1 + 8 + 4 + ((long)p.Entries.Count * CatalogEntry.Size);
        }
        byte[] plain = new byte[size];
        Magic.CopyTo(plain);
        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(8), packs.Count);
        int at = 12;
        foreach (var p in packs)
        {
            p.Id.Write(plain.AsSpan(at));
            plain[at + 32] = (byte)p.Kind;
            BinaryPrimitives.WriteInt64LittleEndian(plain.AsSpan(at + 33), p.Length);
            BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(at + 41), p.Entries.Count);
            at += 45;
            foreach (var e in p.Entries)
            {
                e.Write(plain.AsSpan(at));
                at += CatalogEntry.Size;
            }
        }
        using var aead = new Aead(indexKey);
        return aead.Seal(plain, Aad);
    }

    public static List<PackEntries> Open(ReadOnlySpan<byte> sealedSegment, byte[] indexKey, string where)
    {
        using var aead = new Aead(indexKey);
        byte[] plain = aead.TryOpen(sealedSegment, Aad) ?? throw new CorruptionException($"{where}: index segment fails authentication (damaged)");
        if (plain.Length < 12 || !plain.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: not an index segment");
        }
        int n = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(8));
        var result = new List<PackEntries>(n);
        int at = 12;
        try
        {
            for (int i = 0; i < n; i++)
            {
                var id = BlobId.Read(plain.AsSpan(at));
                var kind = (PackKind)plain[at + 32];
                long length = BinaryPrimitives.ReadInt64LittleEndian(plain.AsSpan(at + 33));
                int count = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(at + 41));
                at += 45;
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
}
