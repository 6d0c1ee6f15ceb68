using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Compression;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Sources.Buckets;

/// <summary>What a restoration point says about itself; readable with a writer key (sealed with the index key).</summary>
public sealed record BucketPointHeader
{
    public int Version { get; init; } = 1;
    public required DateTimeOffset Time { get; init; }
    /// <summary>The source: "s3:http://host:port/bucket[/prefix]", no secrets.</summary>
    public required string Location { get; init; }
    public required string Bucket { get; init; }
    public string Prefix { get; init; } = "";
    public string Host { get; init; } = "";
    public IReadOnlyList<string> Tags { get; init; } = [];
    /// <summary>Keys that existed (had a current version that is not a delete marker).</summary>
    public long Keys { get; init; }
    /// <summary>The sum of their sizes.</summary>
    public long Bytes { get; init; }
    public int Frames { get; init; }
}

/// <summary>
/// points/&lt;id&gt;: one restoration point of a versioned bucket; docs/format.md has the layout. Entries (key, version id,
/// size, ETag) are written in the bucket's listing order, front-coded, in frames of about <see cref="FrameTarget"/> bytes,
/// each zstd-compressed and sealed on its own, so millions of keys stream through bounded memory both ways.
/// <code>
/// "STRPNT01" | wrapped content key (92, to the public key) | frame* | sealed header | i32 header length | "STRPNT01"
/// frame = i32 sealed length | AES-256-GCM(content key, AAD "strata bucket point v1" | u32 frame number | u8 last)
///         of (i32 raw length | i32 entries | zstd(raw entries))
/// </code>
/// The header (JSON) is sealed with the index key (AAD "strata bucket point header v1"). The object id is the SHA-256
/// of the bytes. Only the owner opens the entries: key names are the bucket's contents.
/// </summary>
public static class BucketPointCodec
{
    public const int FrameTarget = 256 * 1024;
    internal static ReadOnlySpan<byte> Magic => "STRPNT01"u8;
    internal static ReadOnlySpan<byte> HeaderAad => "strata bucket point header v1"u8;
    internal static ReadOnlySpan<byte> FrameAadPrefix => "strata bucket point v1"u8;
    internal const int LeadSize = 8 + KeyWrap.Size;
    internal const int TailSize = 4 + 8;

    internal static byte[] FrameAad(int frame, bool last)
    {
        byte[] aad = new byte[FrameAadPrefix.Length + 5];
        FrameAadPrefix.CopyTo(aad);
        BinaryPrimitives.WriteUInt32LittleEndian(aad.AsSpan(FrameAadPrefix.Length), (uint)frame);
        aad[^1] = last ? (byte)1 : (byte)0;
        return aad;
    }

    public static byte[] SealHeader(BucketPointHeader header, MasterKeys keys)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, BucketJson.Default.BucketPointHeader);
        using var a = new Aead(keys.IndexKey);
        return a.Seal(json, HeaderAad);
    }

    /// <summary>Opens the header from the object's tail (the last <c>tail.Length</c> bytes of an object of <paramref name="length"/> bytes).</summary>
    public static BucketPointHeader OpenHeader(ReadOnlySpan<byte> tail, long length, MasterKeys keys, string where, out long framesEnd)
    {
        if (tail.Length < TailSize || !tail[^8..].SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: not a bucket restoration point");
        }
        int n = BinaryPrimitives.ReadInt32LittleEndian(tail[^12..]);
        if (n < Aead.Overhead || n > tail.Length - TailSize || length < LeadSize + n + TailSize)
        {
            throw new CorruptionException($"{where}: restoration point is truncated");
        }
        framesEnd = length - TailSize - n;
        using var a = new Aead(keys.IndexKey);
        byte[] json = a.TryOpen(tail.Slice(tail.Length - TailSize - n, n), HeaderAad)
            ?? throw new CorruptionException($"{where}: restoration point header fails authentication (damaged, or another repository's)");
        try
        {
            BucketPointHeader h = JsonSerializer.Deserialize(json, BucketJson.Default.BucketPointHeader) ?? throw new CorruptionException($"{where}: empty restoration point header");
            if (h.Version != 1)
            {
                throw new CorruptionException($"{where}: restoration point version {h.Version} is not supported; upgrade strata");
            }
            return h;
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{where}: restoration point header is not valid: {e.Message}");
        }
    }

    /// <summary>
    /// The entries of a point, in recorded order, read sequentially in 1 MiB range reads. Memory: one window plus one frame.
    /// Throws <see cref="CorruptionException"/> naming the object for any damage, including a missing last frame.
    /// </summary>
    /// <param name="hash">When given, every byte read (the object up to the header) is added to it.</param>
    public static async IAsyncEnumerable<BucketEntry> ReadEntriesAsync(IStore store, ObjectName name, long framesEnd, MasterKeys keys, [EnumeratorCancellation] CancellationToken ct, IncrementalHash? hash = null)
    {
        string where = name.Path;
        byte[] priv = keys.PrivateKey ?? throw new WriterKeyException("reading a bucket restoration point");
        var reader = new SequentialReader(store, name, framesEnd, hash);
        byte[] lead = await reader.ReadAsync(LeadSize, ct).ConfigureAwait(false);
        if (!lead.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: not a bucket restoration point");
        }
        byte[] key = KeyWrap.Unwrap(priv, lead.AsSpan(8, KeyWrap.Size)) ?? throw new CorruptionException($"{where}: the point's key does not open (damaged, or another repository's)");
        using var aead = new Aead(key);
        using var zstd = new ZstdDecompressor();
        int frame = 0;
        bool sawLast = false;
        while (reader.Position < framesEnd)
        {
            if (sawLast)
            {
                throw new CorruptionException($"{where}: data after the last frame");
            }
            int sealedLength = BinaryPrimitives.ReadInt32LittleEndian(await reader.ReadAsync(4, ct).ConfigureAwait(false));
            if (sealedLength < Aead.Overhead + 8 || sealedLength > framesEnd - reader.Position)
            {
                throw new CorruptionException($"{where}: frame {frame} has an impossible length");
            }
            byte[] sealedFrame = await reader.ReadAsync(sealedLength, ct).ConfigureAwait(false);
            bool last = reader.Position == framesEnd;
            byte[] plain = aead.TryOpen(sealedFrame, FrameAad(frame, last))
                ?? throw new CorruptionException($"{where}: frame {frame} fails authentication (damaged, reordered or truncated)");
            sawLast = last;
            foreach (BucketEntry e in DecodeFrame(plain, zstd, where, frame))
            {
                yield return e;
            }
            frame++;
        }
        if (!sawLast)
        {
            throw new CorruptionException($"{where}: the last frame is missing (truncated)");
        }
    }

    private static List<BucketEntry> DecodeFrame(byte[] plain, ZstdDecompressor zstd, string where, int frame)
    {
        int rawLength = BinaryPrimitives.ReadInt32LittleEndian(plain);
        int count = BinaryPrimitives.ReadInt32LittleEndian(plain.AsSpan(4));
        if (rawLength < 0 || rawLength > 64 * FrameTarget || count < 0)
        {
            throw new CorruptionException($"{where}: frame {frame} has impossible sizes");
        }
        byte[] raw = ArrayPool<byte>.Shared.Rent(Math.Max(rawLength, 1));
        try
        {
            if (zstd.Decompress(plain.AsSpan(8), raw.AsSpan(0, rawLength)) != rawLength)
            {
                throw new CorruptionException($"{where}: frame {frame} does not decompress to its recorded size");
            }
            var list = new List<BucketEntry>(count);
            var r = new FrameReader(raw.AsSpan(0, rawLength).ToArray());
            string previous = "";
            for (int i = 0; i < count; i++)
            {
                int shared = r.ReadInt();
                string suffix = r.ReadString();
                if (shared > previous.Length)
                {
                    throw new CorruptionException($"{where}: frame {frame} entry {i} is malformed");
                }
                string k = previous[..shared] + suffix;
                list.Add(new BucketEntry(k, r.ReadString(), r.ReadLong(), r.ReadString()));
                previous = k;
            }
            return list;
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or InvalidDataException)
        {
            throw new CorruptionException($"{where}: frame {frame} is malformed: {e.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>Sequential reads of one store object through a 1 MiB window, up to a limit.</summary>
    private sealed class SequentialReader(IStore store, ObjectName name, long end, IncrementalHash? hash)
    {
        private const int Window = 1 << 20;
        private byte[] _buffer = [];
        private long _bufferStart;

        public long Position { get; private set; }

        public async Task<byte[]> ReadAsync(int count, CancellationToken ct)
        {
            if (Position + count > end)
            {
                throw new CorruptionException($"{name.Path}: restoration point is truncated");
            }
            if (Position < _bufferStart || Position + count > _bufferStart + _buffer.Length)
            {
                int size = (int)Math.Min(Math.Max(Window, count), end - Position);
                _buffer = new byte[size];
                _bufferStart = Position;
                await store.ReadAsync(name, Position, _buffer, ct).ConfigureAwait(false);
            }
            byte[] result = _buffer.AsSpan((int)(Position - _bufferStart), count).ToArray();
            hash?.AppendData(result);
            Position += count;
            return result;
        }
    }

    private sealed class FrameReader(byte[] data)
    {
        private int _at;

        public long ReadLong()
        {
            long value = 0;
            int shift = 0;
            while (true)
            {
                if (_at >= data.Length || shift > 63)
                {
                    throw new EndOfStreamException("a number runs past the frame");
                }
                byte b = data[_at++];
                value |= (long)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
                shift += 7;
            }
        }

        public int ReadInt() => checked((int)ReadLong());

        public string ReadString()
        {
            int n = ReadInt();
            if (n < 0 || _at + n > data.Length)
            {
                throw new EndOfStreamException("a string runs past the frame");
            }
            string s = Encoding.UTF8.GetString(data, _at, n);
            _at += n;
            return s;
        }
    }
}

/// <summary>
/// Writes a point into a stream (a temporary file: its id is known only at the end). Entries must come in the
/// bucket's listing order. Memory: one frame of about <see cref="BucketPointCodec.FrameTarget"/> bytes.
/// </summary>
public sealed class BucketPointWriter : IDisposable
{
    private readonly Stream _output;
    private readonly Aead _aead;
    private readonly ZstdCompressor _zstd = new(3);
    private readonly MemoryStream _raw = new();
    private byte[] _pendingFrame = [];
    private int _count;
    private int _frames;
    private string _previous = "";

    public BucketPointWriter(Stream output, MasterKeys keys)
    {
        _output = output;
        byte[] key = Aead.NewKey();
        _aead = new Aead(key);
        _output.Write(BucketPointCodec.Magic);
        _output.Write(KeyWrap.Wrap(keys.PublicKey, key));
        Keys = 0;
    }

    public long Keys { get; private set; }
    public long Bytes { get; private set; }

    public void Add(BucketEntry e)
    {
        int shared = SharedPrefix(_previous, e.Key);
        // Never split a surrogate pair between the shared part and the suffix.
        if (shared > 0 && char.IsHighSurrogate(e.Key[shared - 1]))
        {
            shared--;
        }
        WriteNumber(shared);
        WriteString(e.Key[shared..]);
        WriteString(e.VersionId);
        WriteNumber(e.Size);
        WriteString(e.ETag);
        _previous = e.Key;
        _count++;
        Keys++;
        Bytes += e.Size;
        if (_raw.Length >= BucketPointCodec.FrameTarget)
        {
            CloseFrame();
        }
    }

    /// <summary>Writes the last frame and the header. The header's counts and frame number are filled in here.</summary>
    public void Finish(BucketPointHeader header, MasterKeys keys)
    {
        CloseFrame();
        if (_frames == 0 && _pendingFrame.Length == 0)
        {
            CloseFrame(force: true); // an empty bucket still has one (empty) last frame, so truncation is detectable
        }
        WritePending(last: true);
        byte[] sealedHeader = BucketPointCodec.SealHeader(header with { Keys = Keys, Bytes = Bytes, Frames = _frames }, keys);
        _output.Write(sealedHeader);
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, sealedHeader.Length);
        _output.Write(n);
        _output.Write(BucketPointCodec.Magic);
        _output.Flush();
    }

    // A frame is sealed only once the next one exists (or Finish runs), because its AAD says whether it is the last.
    private void CloseFrame(bool force = false)
    {
        if (_raw.Length == 0 && !force)
        {
            return;
        }
        WritePending(last: false);
        ReadOnlySpan<byte> raw = _raw.GetBuffer().AsSpan(0, (int)_raw.Length);
        byte[] frame = new byte[8 + ZstdCompressor.Bound(raw.Length)];
        BinaryPrimitives.WriteInt32LittleEndian(frame, raw.Length);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), _count);
        int n = _zstd.Compress(raw, frame.AsSpan(8));
        _pendingFrame = frame.AsSpan(0, 8 + n).ToArray();
        _raw.SetLength(0);
        _count = 0;
        _previous = "";
    }

    private void WritePending(bool last)
    {
        if (_pendingFrame.Length == 0)
        {
            return;
        }
        byte[] sealedFrame = _aead.Seal(_pendingFrame, BucketPointCodec.FrameAad(_frames, last));
        Span<byte> n = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(n, sealedFrame.Length);
        _output.Write(n);
        _output.Write(sealedFrame);
        _frames++;
        _pendingFrame = [];
    }

    private static int SharedPrefix(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        int i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }
        return i;
    }

    private void WriteNumber(long v)
    {
        ulong u = (ulong)v;
        while (u >= 0x80)
        {
            _raw.WriteByte((byte)(u | 0x80));
            u >>= 7;
        }
        _raw.WriteByte((byte)u);
    }

    private void WriteString(string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        WriteNumber(b.Length);
        _raw.Write(b);
    }

    public void Dispose()
    {
        _aead.Dispose();
        _zstd.Dispose();
        _raw.Dispose();
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BucketPointHeader))]
internal sealed partial class BucketJson : JsonSerializerContext;
