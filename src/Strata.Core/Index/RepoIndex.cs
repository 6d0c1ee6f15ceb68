using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
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
/// The in-memory index: blob id to location, for every pack the repository's index segments and catalogs name.
/// Band-record packs are listed (so check and purge know them) but their blobs are not looked up: trees are read
/// from warm tree packs.
/// <para>
/// Memory (DESIGN.md: under 40 bytes per blob): what <see cref="Repo.LoadIndexAsync"/> reads goes into one array
/// sorted by id, 38 bytes per blob (<see cref="Slot"/>: the first 24 bytes of the id, then pack number, offset,
/// lengths and flags packed into 14), plus a table of bucket starts under half a byte per blob. Ids are compared on those 24 bytes (192 bits: among 2^40 blobs the chance
/// that two share them is below 2^-110, and a writer who knows the dedup key would need about 2^96 tries to make
/// such a pair); every blob read is still checked against its full id. Blobs added later (the packs a backup
/// writes) and the rare location that does not fit a slot (a pack over 4 GiB or 16 M packs, a blob over 16 MiB)
/// go into a small dictionary beside it.
/// </para>
/// <para>
/// Thread-safe for concurrent <see cref="AddPack"/> and lookups, except while a bulk load is open: then AddPack
/// only collects, and lookups see the blobs of packs added before <see cref="BeginBulkLoad"/>.
/// </para>
/// </summary>
public sealed class RepoIndex
{
    private const int StagingChunk = 1 << 16;

    private Table _table = Table.Empty;
    private readonly ConcurrentDictionary<BlobId, IndexEntry> _recent = new();
    private readonly List<PackRecord> _packs = [];
    private readonly Dictionary<BlobId, PackRecord> _packById = [];
    private readonly Lock _lock = new();
    private List<Slot[]>? _staging;
    private int _stagedInLast;

    public int BlobCount
    {
        get
        {
            lock (_lock)
            {
                return _table.Slots.Length + _recent.Count + (_staging is null ? 0 : ((_staging.Count - 1) * StagingChunk) + _stagedInLast);
            }
        }
    }

    /// <summary>Bytes the blob table takes (the sorted array; the dictionary of later blobs counted at 72 bytes each).</summary>
    public long ApproximateBytes => _table.Bytes + (_recent.Count * 72L);

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

    public bool Contains(BlobId id) => TryGet(id, out _);

    public bool TryGet(BlobId id, out IndexEntry entry)
    {
        Table table = Volatile.Read(ref _table);
        int i = table.Find(id.A, id.B, id.C);
        if (i >= 0)
        {
            entry = table.Slots[i].ToEntry();
            return true;
        }
        return _recent.TryGetValue(id, out entry);
    }

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

    /// <summary>Adds a pack and its blobs. A blob already indexed keeps its location (within one bulk load, one of the copies does).</summary>
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
            if (kind == PackKind.Band)
            {
                return rec;
            }
            if (_staging is not null)
            {
                foreach (CatalogEntry e in entries)
                {
                    var entry = new IndexEntry(rec.Number, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed);
                    if (!Slot.Fits(entry))
                    {
                        _recent.TryAdd(e.Id, entry);
                        continue;
                    }
                    if (_stagedInLast == StagingChunk)
                    {
                        _staging.Add(new Slot[StagingChunk]);
                        _stagedInLast = 0;
                    }
                    _staging[^1][_stagedInLast++] = Slot.From(e.Id, entry);
                }
                return rec;
            }
        }
        foreach (CatalogEntry e in entries)
        {
            if (!Contains(e.Id))
            {
                _recent.TryAdd(e.Id, new IndexEntry(rec.Number, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed));
            }
        }
        return rec;
    }

    /// <summary>
    /// From here until <see cref="EndBulkLoad"/>, <see cref="AddPack"/> only collects blobs (38 bytes each), for
    /// loading a whole index without a dictionary entry per blob.
    /// </summary>
    public void BeginBulkLoad()
    {
        lock (_lock)
        {
            if (_staging is not null)
            {
                throw new InvalidOperationException("a bulk load is already open");
            }
            _staging = [new Slot[StagingChunk]];
            _stagedInLast = 0;
        }
    }

    /// <summary>Sorts what the bulk load collected and merges it with what was indexed before (which keeps its locations).</summary>
    public void EndBulkLoad()
    {
        lock (_lock)
        {
            List<Slot[]> chunks = _staging ?? throw new InvalidOperationException("no bulk load is open");
            _staging = null;
            int count = ((chunks.Count - 1) * StagingChunk) + _stagedInLast;
            Slot[] staged = new Slot[count];
            for (int c = 0, at = 0; c < chunks.Count; c++, at += StagingChunk)
            {
                int n = Math.Min(StagingChunk, count - at);
                Array.Copy(chunks[c], 0, staged, at, n);
                chunks[c] = null!;
            }
            staged = SortUnique(staged);

            // Blobs indexed before the bulk load keep their locations: the sorted array, then what the dictionary
            // holds that fits a slot (moved over); blobs that stay in the dictionary win over staged ones too.
            // The moved ones leave the dictionary only after the new table is published, so lookups never miss them.
            var moved = _recent.Where(kv => Slot.Fits(kv.Value)).ToList();
            var kept = _recent.Where(kv => !Slot.Fits(kv.Value)).Select(kv => (kv.Key.A, kv.Key.B, kv.Key.C)).ToHashSet();
            Slot[] earlier = Merge(_table.Slots, SortUnique([.. moved.Select(kv => Slot.From(kv.Key, kv.Value))]));
            if (kept.Count > 0)
            {
                staged = [.. staged.Where(s => !kept.Contains((s.A, s.B, s.C)))];
            }
            Volatile.Write(ref _table, new Table(Merge(earlier, staged)));
            foreach (var kv in moved)
            {
                _recent.TryRemove(kv.Key, out _);
            }
        }
    }

    /// <summary>Sorts by id prefix and keeps the first of equal ones; returns an array of exactly the unique slots.</summary>
    private static Slot[] SortUnique(Slot[] slots)
    {
        if (slots.Length < 2)
        {
            return slots;
        }
        Array.Sort(slots, SlotOrder.Instance);
        int w = 1;
        for (int r = 1; r < slots.Length; r++)
        {
            if (SlotOrder.Compare(slots[r], slots[w - 1]) != 0)
            {
                slots[w++] = slots[r];
            }
        }
        if (w < slots.Length)
        {
            Array.Resize(ref slots, w);
        }
        return slots;
    }

    /// <summary>Merges two sorted, unique arrays; on equal ids the left one's slot is kept.</summary>
    private static Slot[] Merge(Slot[] left, Slot[] right)
    {
        if (right.Length == 0)
        {
            return left;
        }
        if (left.Length == 0)
        {
            return right;
        }
        var result = new Slot[left.Length + right.Length];
        int i = 0, j = 0, w = 0;
        while (i < left.Length && j < right.Length)
        {
            int c = SlotOrder.Compare(left[i], right[j]);
            if (c <= 0)
            {
                result[w++] = left[i++];
                if (c == 0)
                {
                    j++;
                }
            }
            else
            {
                result[w++] = right[j++];
            }
        }
        while (i < left.Length)
        {
            result[w++] = left[i++];
        }
        while (j < right.Length)
        {
            result[w++] = right[j++];
        }
        if (w < result.Length)
        {
            Array.Resize(ref result, w);
        }
        return result;
    }

    /// <summary>
    /// The sorted slots and where each run of ids with the same top bits starts (about one start per 8 to 16
    /// blobs, under half a byte per blob), so a lookup binary-searches a few neighbouring slots.
    /// </summary>
    private sealed class Table
    {
        public static readonly Table Empty = new([]);

        public readonly Slot[] Slots;
        private readonly int[] _starts;
        private readonly int _shift;

        public Table(Slot[] slots)
        {
            Slots = slots;
            int bits = slots.Length < 16 ? 0 : Math.Min(24, BitOperations.Log2((uint)slots.Length) - 3);
            _shift = 64 - bits;
            _starts = new int[(1 << bits) + 1];
            int next = 0;
            for (int bucket = 0; bucket < (1 << bits); bucket++)
            {
                _starts[bucket] = next;
                while (next < slots.Length && Bucket(slots[next].A) == bucket)
                {
                    next++;
                }
            }
            _starts[1 << bits] = slots.Length;
        }

        public long Bytes => ((long)Slots.Length * Slot.Size) + (_starts.Length * 4L);

        private int Bucket(ulong a) => _shift == 64 ? 0 : (int)(a >> _shift);

        public int Find(ulong a, ulong b, ulong c)
        {
            int bucket = Bucket(a);
            int lo = _starts[bucket], hi = _starts[bucket + 1] - 1;
            Slot[] slots = Slots;
            while (lo <= hi)
            {
                int mid = (int)((uint)(lo + hi) >> 1);
                ref readonly Slot s = ref slots[mid];
                int cmp = s.A != a ? s.A.CompareTo(a) : s.B != b ? s.B.CompareTo(b) : s.C.CompareTo(c);
                if (cmp == 0)
                {
                    return mid;
                }
                if (cmp < 0)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }
            return -1;
        }
    }

    private sealed class SlotOrder : IComparer<Slot>
    {
        public static readonly SlotOrder Instance = new();

        public static int Compare(in Slot x, in Slot y) =>
            x.A != y.A ? x.A.CompareTo(y.A) : x.B != y.B ? x.B.CompareTo(y.B) : x.C.CompareTo(y.C);

        int IComparer<Slot>.Compare(Slot x, Slot y) => Compare(x, y);
    }

    /// <summary>
    /// One indexed blob in 38 bytes: the first 24 bytes of its id, the offset (u32), the pack number, stored and
    /// raw length (24 bits each), and a flag byte (kind in bits 0-6, compressed in bit 7).
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal readonly struct Slot
    {
        public const int Size = 38;

        public readonly ulong A;
        public readonly ulong B;
        public readonly ulong C;
        private readonly uint _offset;
        private readonly ushort _packLow;
        private readonly byte _packHigh;
        private readonly byte _flags;
        private readonly ushort _storedLow;
        private readonly byte _storedHigh;
        private readonly ushort _rawLow;
        private readonly byte _rawHigh;

        private Slot(BlobId id, in IndexEntry e)
        {
            A = id.A;
            B = id.B;
            C = id.C;
            _offset = (uint)e.Offset;
            _packLow = (ushort)e.Pack;
            _packHigh = (byte)(e.Pack >> 16);
            _flags = (byte)((byte)e.Kind | (e.Compressed ? 0x80 : 0));
            _storedLow = (ushort)e.StoredLength;
            _storedHigh = (byte)(e.StoredLength >> 16);
            _rawLow = (ushort)e.RawLength;
            _rawHigh = (byte)(e.RawLength >> 16);
        }

        public static bool Fits(in IndexEntry e) =>
            (uint)e.Pack < (1u << 24) && (ulong)e.Offset <= uint.MaxValue && (uint)e.StoredLength < (1u << 24)
            && (uint)e.RawLength < (1u << 24) && (byte)e.Kind < 0x80;

        public static Slot From(BlobId id, in IndexEntry e) => new(id, e);

        public IndexEntry ToEntry() => new(
            _packLow | (_packHigh << 16), _offset, _storedLow | (_storedHigh << 16), _rawLow | (_rawHigh << 16),
            (BlobKind)(_flags & 0x7F), (_flags & 0x80) != 0);
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
