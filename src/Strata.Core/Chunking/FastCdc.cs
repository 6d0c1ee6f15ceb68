using System.Security.Cryptography;

namespace Strata.Chunking;

/// <summary>
/// FastCDC (Xia et al., 2020) content-defined chunking with normalized chunking level 2.
/// The 256-entry gear table is derived from the repository's chunker key, so boundaries depend on a secret
/// (as borg keys its buzhash), yet every writer of the repository cuts identically and deduplicates.
/// A cut point depends only on the last 64 bytes (the gear hash shifts left once per byte), so masks use the
/// high bits of the fingerprint. Thread-safe: the instance is immutable.
/// </summary>
public sealed class FastCdc
{
    private readonly ulong[] _gear = new ulong[256];
    private readonly ulong _maskSmall;
    private readonly ulong _maskLarge;

    public FastCdc(ReadOnlySpan<byte> key, int minSize, int avgSize, int maxSize)
    {
        if (minSize <= 0 || avgSize <= minSize || maxSize <= avgSize || (avgSize & (avgSize - 1)) != 0)
        {
            throw new ArgumentException("need 0 < min < avg < max and avg a power of two");
        }
        MinSize = minSize;
        AvgSize = avgSize;
        MaxSize = maxSize;
        // Gear table: HMAC-SHA-256(key, "gear" || i) gives 4 words per call.
        Span<byte> input = stackalloc byte[8];
        Span<byte> mac = stackalloc byte[32];
        for (int i = 0; i < 64; i++)
        {
            "gear"u8.CopyTo(input);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(input[4..], i);
            HMACSHA256.HashData(key, input, mac);
            for (int j = 0; j < 4; j++)
            {
                _gear[(i * 4) + j] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(mac[(j * 8)..]);
            }
        }
        int bits = System.Numerics.BitOperations.Log2((uint)avgSize);
        _maskSmall = HighBits(bits + 2);
        _maskLarge = HighBits(bits - 2);
    }

    public int MinSize { get; }
    public int AvgSize { get; }
    public int MaxSize { get; }

    private static ulong HighBits(int n) => n <= 0 ? 0 : ulong.MaxValue << (64 - n);

    /// <summary>
    /// The length of the next chunk at the start of <paramref name="data"/>. When <paramref name="data"/> is
    /// shorter than <see cref="MaxSize"/> it must hold the rest of the stream (the end is a cut).
    /// </summary>
    public int NextCut(ReadOnlySpan<byte> data)
    {
        int n = data.Length;
        if (n <= MinSize)
        {
            return n;
        }
        if (n > MaxSize)
        {
            n = MaxSize;
        }
        int normal = n < AvgSize ? n : AvgSize;
        ulong fp = 0;
        ulong[] gear = _gear;
        int i = MinSize;
        ulong ms = _maskSmall;
        for (; i < normal; i++)
        {
            fp = (fp << 1) + gear[data[i]];
            if ((fp & ms) == 0)
            {
                return i + 1;
            }
        }
        ulong ml = _maskLarge;
        for (; i < n; i++)
        {
            fp = (fp << 1) + gear[data[i]];
            if ((fp & ml) == 0)
            {
                return i + 1;
            }
        }
        return n;
    }
}
