using System.Buffers.Binary;
using Strata.Crypto;
using Strata.Repository;

namespace Strata.Packs;

public enum BlobKind : byte
{
    Data = 0,
    Tree = 1,
    Snapshot = 2,
    /// <summary>Many tree blobs in one, for band records (<see cref="TreeBundle"/>).</summary>
    TreeBundle = 3,
}

public enum PackKind : byte
{
    /// <summary>File contents; cold tier, data/.</summary>
    Data = 0,
    /// <summary>Tree blobs; warm tier, tree/.</summary>
    Tree = 1,
    /// <summary>A band record: copies of a backup's trees plus its snapshot; cold tier, data/.</summary>
    Band = 2,
}

/// <summary>One blob in a pack, as its catalog lists it. 52 bytes on disk.</summary>
/// <param name="Offset">Byte offset of the sealed blob in the pack.</param>
/// <param name="StoredLength">Sealed length: nonce + (compressed or raw) payload + tag.</param>
/// <param name="RawLength">Plaintext length.</param>
public readonly record struct CatalogEntry(BlobId Id, BlobKind Kind, bool Compressed, long Offset, int StoredLength, int RawLength)
{
    public const int Size = 52;

    public void Write(Span<byte> b)
    {
        Id.Write(b);
        b[32] = (byte)Kind;
        b[33] = Compressed ? (byte)1 : (byte)0;
        b[34] = 0;
        b[35] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(b[36..], Offset);
        BinaryPrimitives.WriteInt32LittleEndian(b[44..], StoredLength);
        BinaryPrimitives.WriteInt32LittleEndian(b[48..], RawLength);
    }

    public static CatalogEntry Read(ReadOnlySpan<byte> b) => new(
        BlobId.Read(b),
        (BlobKind)b[32],
        b[33] == 1,
        BinaryPrimitives.ReadInt64LittleEndian(b[36..]),
        BinaryPrimitives.ReadInt32LittleEndian(b[44..]),
        BinaryPrimitives.ReadInt32LittleEndian(b[48..]));
}

/// <summary>
/// The fixed 128-byte trailer at the end of every pack (layout in docs/format.md): magic, version, kind,
/// blob count, where the sealed catalog is, and the pack's content key wrapped to the repository public key.
/// Version 1 packs hold a plain catalog, version 2 (what this code writes) a compressed one; both are read.
/// </summary>
public sealed record PackTrailer(PackKind Kind, int BlobCount, long CatalogOffset, int CatalogLength, byte[] WrappedKey, ushort Version = PackTrailer.FormatVersion)
{
    public const int Size = 128;
    /// <summary>The version this code writes; <see cref="OldestVersion"/> up to it are read.</summary>
    public const ushort FormatVersion = 2;
    public const ushort OldestVersion = 1;
    public static ReadOnlySpan<byte> Magic => "STRATAPK"u8;

    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        Magic.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], Version);
        b[10] = (byte)Kind;
        BinaryPrimitives.WriteInt32LittleEndian(b[12..], BlobCount);
        BinaryPrimitives.WriteInt64LittleEndian(b[16..], CatalogOffset);
        BinaryPrimitives.WriteInt32LittleEndian(b[24..], CatalogLength);
        WrappedKey.CopyTo(b[32..]);
    }

    public static PackTrailer Read(ReadOnlySpan<byte> b, string where)
    {
        if (b.Length < Size || !b[..8].SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: the pack trailer is missing or damaged (no STRATAPK magic at the end; the pack may be truncated)");
        }
        ushort v = BinaryPrimitives.ReadUInt16LittleEndian(b[8..]);
        if (v is < OldestVersion or > FormatVersion)
        {
            throw new RepositoryFormatException($"{where}: pack format version {v} is not supported by this strata (reads versions {OldestVersion} to {FormatVersion})");
        }
        return new PackTrailer(
            (PackKind)b[10],
            BinaryPrimitives.ReadInt32LittleEndian(b[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(b[24..]),
            b.Slice(32, KeyWrap.Size).ToArray(),
            v);
    }
}

/// <summary>Encoding and sealing of catalogs and blobs, shared by writer and reader.</summary>
public static class PackCodec
{
    public static ReadOnlySpan<byte> CatalogAad => "strata catalog v1"u8;

    /// <summary>
    /// Catalog plaintext (version 2): i32 count k, then one zstd frame of the k entries in <see cref="CatalogColumns"/>
    /// layout. Sealed with the index key.
    /// </summary>
    public static byte[] SealCatalog(IReadOnlyList<CatalogEntry> entries, byte[] indexKey)
    {
        byte[] columns = new byte[entries.Count * CatalogEntry.Size];
        CatalogColumns.Write([entries], columns);
        byte[] frame = CatalogColumns.Compress(columns);
        byte[] plain = new byte[4 + frame.Length];
        BinaryPrimitives.WriteInt32LittleEndian(plain, entries.Count);
        frame.CopyTo(plain, 4);
        using var aead = new Aead(indexKey);
        return aead.Seal(plain, CatalogAad);
    }

    /// <summary>Opens a sealed catalog written by a pack of format <paramref name="version"/> (1: plain entries, 2: compressed columns).</summary>
    public static List<CatalogEntry> OpenCatalog(ReadOnlySpan<byte> sealedCatalog, byte[] indexKey, string where, ushort version = PackTrailer.FormatVersion)
    {
        using var aead = new Aead(indexKey);
        byte[] plain = aead.TryOpen(sealedCatalog, CatalogAad)
            ?? throw new CorruptionException($"{where}: the catalog fails authentication (damaged, or not this repository's)");
        int n = plain.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(plain) : -1;
        if (version == 1)
        {
            if (n < 0 || plain.Length != 4 + ((long)n * CatalogEntry.Size))
            {
                throw new CorruptionException($"{where}: the catalog has an impossible length");
            }
            var list = new List<CatalogEntry>(n);
            for (int i = 0; i < n; i++)
            {
                list.Add(CatalogEntry.Read(plain.AsSpan(4 + (i * CatalogEntry.Size))));
            }
            return list;
        }
        if (n < 0 || (long)n * CatalogEntry.Size > CatalogColumns.MaxBytes)
        {
            throw new CorruptionException($"{where}: the catalog has an impossible entry count ({n})");
        }
        byte[] columns = CatalogColumns.Decompress(plain.AsSpan(4), n * CatalogEntry.Size, where, "catalog");
        var entries = new List<CatalogEntry>(n);
        CatalogColumns.Read(columns, [n], entries);
        return entries;
    }

    /// <summary>
    /// Parses a pack's tail (sealed catalog followed by the trailer): the whole warm catalogs/ object, or the
    /// end of a pack. Returns the trailer and the entries.
    /// </summary>
    public static (PackTrailer Trailer, List<CatalogEntry> Entries) ParseTail(ReadOnlySpan<byte> tail, byte[] indexKey, string where)
    {
        if (tail.Length < PackTrailer.Size)
        {
            throw new CorruptionException($"{where}: too short to hold a pack trailer ({tail.Length} bytes)");
        }
        PackTrailer t = PackTrailer.Read(tail[^PackTrailer.Size..], where);
        int catStart = tail.Length - PackTrailer.Size - t.CatalogLength;
        if (t.CatalogLength < Aead.Overhead || catStart < 0)
        {
            throw new CorruptionException($"{where}: the trailer names a catalog that does not fit ({t.CatalogLength} bytes)");
        }
        var entries = PackCodec.OpenCatalog(tail.Slice(catStart, t.CatalogLength), indexKey, where, t.Version);
        if (entries.Count != t.BlobCount)
        {
            throw new CorruptionException($"{where}: the catalog lists {entries.Count} blobs, the trailer says {t.BlobCount}");
        }
        return (t, entries);
    }

    /// <summary>Opens one sealed blob: authenticates with the blob id as associated data, decompresses, and checks the keyed id.</summary>
    public static byte[] OpenBlob(ReadOnlySpan<byte> sealedBlob, CatalogEntry entry, Aead packAead, MasterKeys keys, string where) =>
        OpenBlobWithPayload(sealedBlob, entry, packAead, keys, where).Plain;

    /// <summary>
    /// Like <see cref="OpenBlob"/> without allocating: decrypts <paramref name="sealedBlob"/> in place (the payload then
    /// sits after the nonce) and, for a compressed blob, decompresses into <paramref name="plain"/> (at least
    /// <see cref="CatalogEntry.RawLength"/> bytes). Returns the blob's length: in <paramref name="plain"/> when compressed,
    /// else at <paramref name="sealedBlob"/>[<see cref="Aead.NonceSize"/>..]. Same checks and messages as <see cref="OpenBlob"/>.
    /// </summary>
    public static int OpenBlobInPlace(Span<byte> sealedBlob, CatalogEntry entry, Aead packAead, MasterKeys keys, string where, Span<byte> plain)
    {
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        entry.Id.Write(idBytes);
        if (!packAead.TryOpenInPlace(sealedBlob, idBytes))
        {
            throw new CorruptionException($"{where}: blob {entry.Id.Short} fails authentication (damaged)");
        }
        Span<byte> payload = sealedBlob.Slice(Aead.NonceSize, sealedBlob.Length - Aead.Overhead);
        Span<byte> result = payload;
        if (entry.Compressed)
        {
            int n;
            try
            {
                n = Compression.ZstdDecompressor.ForThread.Decompress(payload, plain[..entry.RawLength]);
            }
            catch (InvalidDataException e)
            {
                throw new CorruptionException($"{where}: blob {entry.Id.Short} does not decompress: {e.Message}");
            }
            if (n != entry.RawLength)
            {
                throw new CorruptionException($"{where}: blob {entry.Id.Short} decompresses to {n} bytes, the catalog says {entry.RawLength}");
            }
            result = plain[..n];
        }
        if (keys.IdOf(result) != entry.Id)
        {
            throw new CorruptionException($"{where}: blob {entry.Id.Short} does not match its id");
        }
        return result.Length;
    }

    /// <summary>Like <see cref="OpenBlob"/>, and also returns the stored payload (zstd frame or raw), so it can be sealed again unchanged.</summary>
    public static (byte[] Payload, byte[] Plain) OpenBlobWithPayload(ReadOnlySpan<byte> sealedBlob, CatalogEntry entry, Aead packAead, MasterKeys keys, string where)
    {
        byte[] idBytes = entry.Id.ToBytes();
        byte[] payload = packAead.TryOpen(sealedBlob, idBytes)
            ?? throw new CorruptionException($"{where}: blob {entry.Id.Short} fails authentication (damaged)");
        byte[] plain = payload;
        if (entry.Compressed)
        {
            plain = new byte[entry.RawLength];
            int n;
            try
            {
                n = Compression.ZstdDecompressor.ForThread.Decompress(payload, plain);
            }
            catch (InvalidDataException e)
            {
                throw new CorruptionException($"{where}: blob {entry.Id.Short} does not decompress: {e.Message}");
            }
            if (n != entry.RawLength)
            {
                throw new CorruptionException($"{where}: blob {entry.Id.Short} decompresses to {n} bytes, the catalog says {entry.RawLength}");
            }
        }
        if (keys.IdOf(plain) != entry.Id)
        {
            throw new CorruptionException($"{where}: blob {entry.Id.Short} does not match its id");
        }
        return (payload, plain);
    }
}

/// <summary>
/// How version-2 catalogs and index segments lay out catalog entries before zstd compresses them (docs/format.md
/// §9.3): the same 52 bytes per entry as version 1, column by column (all ids, then all kinds, all compressed flags,
/// all offsets, all stored lengths, all raw lengths), and each offset written as its distance from where the blob
/// would start if it followed the one before it in the same pack (0 for back-to-back blobs). Random ids stay
/// 32 bytes; the other 20 bytes of an entry compress to about 4. Entries come in groups (one per pack); the
/// expected offset starts at 0 in each group.
/// </summary>
public static class CatalogColumns
{
    /// <summary>zstd level for catalogs and index segments: small objects, so a higher level costs little.</summary>
    public const int CompressionLevel = 9;

    /// <summary>Largest entry block a reader accepts (about 5 million entries), so a damaged count cannot allocate without bound.</summary>
    public const int MaxBytes = 256 << 20;

    public static void Write(IReadOnlyList<IReadOnlyList<CatalogEntry>> groups, Span<byte> b)
    {
        int k = 0;
        foreach (var g in groups)
        {
            k += g.Count;
        }
        if (b.Length != k * CatalogEntry.Size)
        {
            throw new ArgumentException($"{b.Length} bytes do not hold {k} entries", nameof(b));
        }
        int i = 0;
        foreach (var g in groups)
        {
            long expected = 0;
            foreach (CatalogEntry e in g)
            {
                e.Id.Write(b.Slice(i * BlobId.Size));
                b[(k * 32) + i] = (byte)e.Kind;
                b[(k * 33) + i] = e.Compressed ? (byte)1 : (byte)0;
                BinaryPrimitives.WriteInt64LittleEndian(b.Slice((k * 34) + (i * 8)), e.Offset - expected);
                BinaryPrimitives.WriteInt32LittleEndian(b.Slice((k * 42) + (i * 4)), e.StoredLength);
                BinaryPrimitives.WriteInt32LittleEndian(b.Slice((k * 46) + (i * 4)), e.RawLength);
                expected = e.Offset + e.StoredLength;
                i++;
            }
        }
    }

    /// <summary>Reads the entries of groups of <paramref name="counts"/> entries from <paramref name="b"/> into <paramref name="into"/>.</summary>
    public static void Read(ReadOnlySpan<byte> b, IReadOnlyList<int> counts, List<CatalogEntry> into)
    {
        int k = b.Length / CatalogEntry.Size;
        int i = 0;
        foreach (int count in counts)
        {
            long expected = 0;
            for (int j = 0; j < count; j++, i++)
            {
                long offset = expected + BinaryPrimitives.ReadInt64LittleEndian(b.Slice((k * 34) + (i * 8)));
                int stored = BinaryPrimitives.ReadInt32LittleEndian(b.Slice((k * 42) + (i * 4)));
                into.Add(new CatalogEntry(
                    BlobId.Read(b.Slice(i * BlobId.Size)),
                    (BlobKind)b[(k * 32) + i],
                    b[(k * 33) + i] == 1,
                    offset,
                    stored,
                    BinaryPrimitives.ReadInt32LittleEndian(b.Slice((k * 46) + (i * 4)))));
                expected = offset + stored;
            }
        }
    }

    public static byte[] Compress(ReadOnlySpan<byte> columns)
    {
        using var z = new Compression.ZstdCompressor(CompressionLevel);
        return z.Compress(columns);
    }

    /// <summary>Decompresses a frame that must hold exactly <paramref name="length"/> bytes; anything else is corruption of <paramref name="what"/> at <paramref name="where"/>.</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> frame, int length, string where, string what)
    {
        byte[] columns = new byte[length];
        int n;
        try
        {
            using var z = new Compression.ZstdDecompressor();
            n = z.Decompress(frame, columns);
        }
        catch (InvalidDataException e)
        {
            throw new CorruptionException($"{where}: the {what} does not decompress: {e.Message}");
        }
        if (n != length)
        {
            throw new CorruptionException($"{where}: the {what} decompresses to {n} bytes, not the {length} its entry count needs");
        }
        return columns;
    }
}

/// <summary>
/// A tree bundle (docs/format.md §12): the trees of a band record back to back, each as i32 length then its bytes,
/// stored as one blob so zstd compresses them together (directory listings repeat field layouts, owners and name
/// stems: about a third smaller than tree by tree) and the band's catalog lists one entry instead of one per directory.
/// A reader finds each tree's id by hashing its bytes with the dedup key, as for any blob.
/// </summary>
public sealed class TreeBundle
{
    /// <summary>A bundle is closed once it holds this many bytes (one tree may take it past).</summary>
    public const int TargetSize = 1 << 20;

    private readonly HashSet<BlobId> _ids = [];
    private readonly System.Buffers.ArrayBufferWriter<byte> _bytes = new(64 << 10);

    /// <summary>Trees bundled so far (also those already taken).</summary>
    public int Count => _ids.Count;

    public bool IsFull => _bytes.WrittenCount >= TargetSize;

    public bool IsEmpty => _bytes.WrittenCount == 0;

    /// <summary>Adds a tree unless this band already holds it; returns whether it was added.</summary>
    public bool Add(BlobId id, ReadOnlySpan<byte> tree)
    {
        if (!_ids.Add(id))
        {
            return false;
        }
        BinaryPrimitives.WriteInt32LittleEndian(_bytes.GetSpan(4), tree.Length);
        _bytes.Advance(4);
        System.Buffers.BuffersExtensions.Write(_bytes, tree);
        return true;
    }

    /// <summary>The bundle's bytes so far; the buffer starts again empty (the trees stay known, so none is bundled twice).</summary>
    public byte[] Take()
    {
        byte[] plain = _bytes.WrittenSpan.ToArray();
        _bytes.Clear();
        return plain;
    }

    /// <summary>The trees in a bundle's plaintext, in order.</summary>
    public static List<byte[]> Split(ReadOnlySpan<byte> plain, string where)
    {
        var trees = new List<byte[]>();
        int at = 0;
        while (at < plain.Length)
        {
            int n = plain.Length - at >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(plain[at..]) : -1;
            if (n < 0 || n > plain.Length - at - 4)
            {
                throw new CorruptionException($"{where}: tree bundle entry {trees.Count + 1} at byte {at} runs past the end of the bundle");
            }
            trees.Add(plain.Slice(at + 4, n).ToArray());
            at += 4 + n;
        }
        return trees;
    }
}
