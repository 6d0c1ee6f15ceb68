using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Strata.Crypto;

/// <summary>
/// A 32-byte id: for blobs the HMAC-SHA-256 of the plaintext under the repository's dedup key, for stored
/// objects (packs, index segments, snapshots) the SHA-256 of their bytes. 32 bytes in memory, no allocation.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BlobId(ulong A, ulong B, ulong C, ulong D) : IComparable<BlobId>
{
    public const int Size = 32;

    public static BlobId Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64BigEndian(bytes),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, A);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], D);
    }

    public byte[] ToBytes()
    {
        byte[] b = new byte[Size];
        Write(b);
        return b;
    }

    /// <summary>The keyed id of a blob's plaintext.</summary>
    public static BlobId Keyed(ReadOnlySpan<byte> dedupKey, ReadOnlySpan<byte> plaintext)
    {
        Span<byte> mac = stackalloc byte[Size];
        HMACSHA256.HashData(dedupKey, plaintext, mac);
        return Read(mac);
    }

    /// <summary>The plain SHA-256 of stored bytes (object names).</summary>
    public static BlobId Hash(ReadOnlySpan<byte> bytes)
    {
        Span<byte> h = stackalloc byte[Size];
        SHA256.HashData(bytes, h);
        return Read(h);
    }

    public static BlobId Parse(string hex)
    {
        if (!TryParse(hex, out BlobId id))
        {
            throw new FormatException($"'{hex}' is not a 64-digit hex id");
        }
        return id;
    }

    public static bool TryParse(string hex, out BlobId id)
    {
        id = default;
        if (hex.Length != 64)
        {
            return false;
        }
        Span<byte> b = stackalloc byte[Size];
        if (Convert.FromHexString(hex, b, out _, out int written) != System.Buffers.OperationStatus.Done || written != Size)
        {
            return false;
        }
        id = Read(b);
        return true;
    }

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[Size];
        Write(b);
        return Convert.ToHexStringLower(b);
    }

    public string Short => ToString()[..8];

    public int CompareTo(BlobId other)
    {
        int c = A.CompareTo(other.A);
        if (c != 0)
        {
            return c;
        }
        c = B.CompareTo(other.B);
        if (c != 0)
        {
            return c;
        }
        c = C.CompareTo(other.C);
        return c != 0 ? c : D.CompareTo(other.D);
    }

    public override int GetHashCode() => (int)A ^ (int)(A >> 32);

    public static bool operator <(BlobId l, BlobId r) => l.CompareTo(r) < 0;
    public static bool operator >(BlobId l, BlobId r) => l.CompareTo(r) > 0;
    public static bool operator <=(BlobId l, BlobId r) => l.CompareTo(r) <= 0;
    public static bool operator >=(BlobId l, BlobId r) => l.CompareTo(r) >= 0;
}
