using System.Buffers.Binary;
using Strata.Crypto;
using Strata.Repository;

namespace Strata.Packs;

public enum BlobKind : byte
{
    Data = 0,
    Tree = 1,
    Snapshot = 2,
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
/// </summary>
public sealed record PackTrailer(PackKind Kind, int BlobCount, long CatalogOffset, int CatalogLength, byte[] WrappedKey)
{
    public const int Size = 128;
    public const ushort FormatVersion = 1;
    public static ReadOnlySpan<byte> Magic => "STRATAPK"u8;

    public void Write(Span<byte> b)
    {
        b[..Size].Clear();
        Magic.CopyTo(b);
        BinaryPrimitives.WriteUInt16LittleEndian(b[8..], FormatVersion);
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
        if (v != FormatVersion)
        {
            throw new RepositoryFormatException($"{where}: pack format version {v} is not supported by this strata (reads version {FormatVersion})");
        }
        return new PackTrailer(
            (PackKind)b[10],
            BinaryPrimitives.ReadInt32LittleEndian(b[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(b[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(b[24..]),
            b.Slice(32, KeyWrap.Size).ToArray());
    }
}

/// <summary>Encoding and sealing of catalogs and blobs, shared by writer and reader.</summary>
public static class PackCodec
{
    public static ReadOnlySpan<byte> CatalogAad => "strata catalog v1"u8;

    /// <summary>Catalog plaintext: u32 count, then <see cref="CatalogEntry.Size"/>-byte entries. Sealed with the index key.</summary>
    public static byte[] SealCatalog(IReadOnlyList<CatalogEntry> entries, byte[] indexKey)
    {
        byte[] plain = new byte[4 + (entries.Count * CatalogEntry.Size)];
        BinaryPrimitives.WriteInt32LittleEndian(plain, entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            entries[i].Write(plain.AsSpan(4 + (i * CatalogEntry.Size)));
        }
        using var aead = new Aead(indexKey);
        return aead.Seal(plain, CatalogAad);
    }

    public static List<CatalogEntry> OpenCatalog(ReadOnlySpan<byte> sealedCatalog, byte[] indexKey, string where)
    {
        using var aead = new Aead(indexKey);
        byte[] plain = aead.TryOpen(sealedCatalog, CatalogAad)
            ?? throw new CorruptionException($"{where}: the catalog fails authentication (damaged, or not this repository's)");
        int n = BinaryPrimitives.ReadInt32LittleEndian(plain);
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
        var entries = PackCodec.OpenCatalog(tail.Slice(catStart, t.CatalogLength), indexKey, where);
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
