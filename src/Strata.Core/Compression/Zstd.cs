using System.Runtime.InteropServices;

namespace Strata.Compression;

/// <summary>
/// zstd through the system's libzstd (the reference implementation; Debian's libzstd1 is on every system since
/// apt and dpkg need it), about three times faster than the managed port on text. Falls back to ZstdSharp
/// (the managed port) when libzstd.so.1 cannot be loaded. Both write standard zstd frames, so either reads
/// what the other wrote. Instances are not thread-safe; use one per thread.
/// </summary>
public sealed class ZstdCompressor : IDisposable
{
    private readonly int _level;
    private nint _ctx;
    private ZstdSharp.Compressor? _managed;

    public ZstdCompressor(int level)
    {
        _level = level;
        if (NativeZstd.Available)
        {
            _ctx = NativeZstd.ZSTD_createCCtx();
        }
        else
        {
            _managed = new ZstdSharp.Compressor(level);
        }
    }

    public static int Bound(int length) => ZstdSharp.Compressor.GetCompressBound(length);

    /// <summary>Compresses into <paramref name="destination"/> (at least <see cref="Bound"/> bytes) and returns the length.</summary>
    public unsafe int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (_managed is not null)
        {
            return _managed.Wrap(source, destination);
        }
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint n = NativeZstd.ZSTD_compressCCtx(_ctx, dst, (nuint)destination.Length, src, (nuint)source.Length, _level);
            NativeZstd.Check(n);
            return (int)n;
        }
    }

    /// <summary>
    /// Compresses into <paramref name="destination"/>, which may be smaller than <see cref="Bound"/>; returns -1 when the
    /// frame does not fit. With a destination the size of the source this asks "does it compress?" without a buffer
    /// larger than the data.
    /// </summary>
    public unsafe int TryCompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (_managed is not null)
        {
            if (destination.Length >= Bound(source.Length))
            {
                return _managed.Wrap(source, destination);
            }
            // ZstdSharp's TryWrap reports a destination that is too small as false.
            return _managed.TryWrap(source, destination, out int written) ? written : -1;
        }
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint n = NativeZstd.ZSTD_compressCCtx(_ctx, dst, (nuint)destination.Length, src, (nuint)source.Length, _level);
            return NativeZstd.ZSTD_isError(n) != 0 ? -1 : (int)n;
        }
    }

    public byte[] Compress(ReadOnlySpan<byte> source)
    {
        byte[] output = new byte[Bound(source.Length)];
        int n = Compress(source, output);
        return output.AsSpan(0, n).ToArray();
    }

    public void Dispose()
    {
        if (_ctx != 0)
        {
            NativeZstd.ZSTD_freeCCtx(_ctx);
            _ctx = 0;
        }
        _managed?.Dispose();
    }
}

/// <summary>zstd decompression; see <see cref="ZstdCompressor"/>. Not thread-safe.</summary>
public sealed class ZstdDecompressor : IDisposable
{
    private nint _ctx;
    private ZstdSharp.Decompressor? _managed;

    public ZstdDecompressor()
    {
        if (NativeZstd.Available)
        {
            _ctx = NativeZstd.ZSTD_createDCtx();
        }
        else
        {
            _managed = new ZstdSharp.Decompressor();
        }
    }

    /// <summary>Decompresses one frame; throws <see cref="InvalidDataException"/> on damaged input or a too-small destination.</summary>
    public unsafe int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (_managed is not null)
        {
            try
            {
                return _managed.Unwrap(source, destination);
            }
            catch (ZstdSharp.ZstdException e)
            {
                throw new InvalidDataException(e.Message, e);
            }
        }
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint n = NativeZstd.ZSTD_decompressDCtx(_ctx, dst, (nuint)destination.Length, src, (nuint)source.Length);
            NativeZstd.Check(n);
            return (int)n;
        }
    }

    public void Dispose()
    {
        if (_ctx != 0)
        {
            NativeZstd.ZSTD_freeDCtx(_ctx);
            _ctx = 0;
        }
        _managed?.Dispose();
    }

    [ThreadStatic]
    private static ZstdDecompressor? t_shared;

    /// <summary>A decompressor for the calling thread, reused across calls.</summary>
    public static ZstdDecompressor ForThread => t_shared ??= new ZstdDecompressor();
}

internal static unsafe partial class NativeZstd
{
    private const string Lib = "libzstd.so.1";

    public static readonly bool Available = Probe();

    private static bool Probe()
    {
        if (Environment.GetEnvironmentVariable("STRATA_MANAGED_ZSTD") == "1" || !NativeLibrary.TryLoad(Lib, out nint handle))
        {
            return false;
        }
        NativeLibrary.Free(handle);
        return true;
    }

    public static void Check(nuint code)
    {
        if (ZSTD_isError(code) != 0)
        {
            throw new InvalidDataException("zstd: " + Marshal.PtrToStringAnsi(ZSTD_getErrorName(code)));
        }
    }

    [LibraryImport(Lib)]
    public static partial nint ZSTD_createCCtx();

    [LibraryImport(Lib)]
    public static partial nuint ZSTD_freeCCtx(nint cctx);

    [LibraryImport(Lib)]
    public static partial nuint ZSTD_compressCCtx(nint cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);

    [LibraryImport(Lib)]
    public static partial nint ZSTD_createDCtx();

    [LibraryImport(Lib)]
    public static partial nuint ZSTD_freeDCtx(nint dctx);

    [LibraryImport(Lib)]
    public static partial nuint ZSTD_decompressDCtx(nint dctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize);

    [LibraryImport(Lib)]
    public static partial uint ZSTD_isError(nuint code);

    [LibraryImport(Lib)]
    public static partial nint ZSTD_getErrorName(nuint code);
}
