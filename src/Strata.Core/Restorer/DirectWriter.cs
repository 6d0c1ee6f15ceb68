using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Strata.Platform;

namespace Strata.Restorer;

/// <summary>
/// Writes one file's contents past the page cache. What is appended is gathered in an aligned buffer and written with
/// O_DIRECT in whole blocks; the last partial block goes through the page cache (so no padding and no truncate). A
/// restore writes data nobody reads right away: this keeps a large restore from pushing the machine's working set out
/// of memory, and on virtual machines whose host takes back free guest memory it avoids paying for every fresh page
/// twice (measured: 1.5 GB buffered 5.3-7.3 s, direct 1.4-1.6 s). If the file system refuses an aligned direct write
/// (EINVAL), the rest of the file is written through the page cache and <see cref="Refused"/> says so.
/// One writer per worker, reused from file to file.
/// </summary>
internal sealed unsafe class DirectWriter : IDisposable
{
    /// <summary>Offsets, lengths and memory of direct writes are multiples of this (the largest logical block size in common use).</summary>
    public const int Align = 4096;
    /// <summary>Bytes per direct write.</summary>
    public const int Capacity = 1 << 20;

    private byte* _buffer = (byte*)NativeMemory.AlignedAlloc(Capacity, Align);
    private SafeFileHandle? _h;
    private string _what = "";
    private int _filled;
    private long _offset;
    private bool _direct;

    /// <summary>The file system refused a direct write; callers stop using direct writes for this target.</summary>
    public bool Refused { get; private set; }

    /// <summary>Starts a file at offset 0; false (nothing changed) when its file system does not take O_DIRECT.</summary>
    public bool Begin(SafeFileHandle h, string what)
    {
        if (!Posix.TrySetDirect(h, true))
        {
            Refused = true;
            return false;
        }
        _h = h;
        _what = what;
        _filled = 0;
        _offset = 0;
        _direct = true;
        return true;
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = Math.Min(Capacity - _filled, data.Length);
            data[..n].CopyTo(new Span<byte>(_buffer + _filled, n));
            _filled += n;
            data = data[n..];
            if (_filled == Capacity)
            {
                Flush(Capacity);
            }
        }
    }

    /// <summary>Writes what is left: whole blocks directly, the partial last block through the page cache. Returns the bytes written in all.</summary>
    public long Finish()
    {
        int whole = _filled & ~(Align - 1);
        if (whole > 0)
        {
            Flush(whole);
        }
        if (_filled > 0)
        {
            SetDirect(false);
            Posix.PWrite(_h!, new ReadOnlySpan<byte>(_buffer, _filled), _offset, _what);
            _offset += _filled;
            _filled = 0;
        }
        SetDirect(false);
        _h = null;
        return _offset;
    }

    /// <summary>Writes the first <paramref name="n"/> buffered bytes (a multiple of <see cref="Align"/>) and keeps the rest.</summary>
    private void Flush(int n)
    {
        var chunk = new ReadOnlySpan<byte>(_buffer, n);
        try
        {
            Posix.PWrite(_h!, chunk, _offset, _what);
        }
        catch (PosixException e) when (e.Errno == 22 /* EINVAL */ && _direct)
        {
            Refused = true;
            SetDirect(false);
            Posix.PWrite(_h!, chunk, _offset, _what);
        }
        _offset += n;
        _filled -= n;
        if (_filled > 0)
        {
            Buffer.MemoryCopy(_buffer + n, _buffer, Capacity, _filled);
        }
    }

    private void SetDirect(bool on)
    {
        if (_direct != on && _h is not null)
        {
            Posix.TrySetDirect(_h, on);
            _direct = on;
        }
    }

    /// <summary>
    /// Whether a folder's file system takes aligned O_DIRECT writes: one block is written to a file made there and
    /// removed (an unnamed one where possible, so nothing is ever visible).
    /// </summary>
    public static bool Probe(byte[] dir)
    {
        byte[]? named = null;
        try
        {
            SafeFileHandle? h = Posix.TryCreateUnnamed(dir, 384 /* 0600 */);
            if (h is null)
            {
                named = Posix.Join(dir, Posix.ToBytes($".strata-restore-probe-{Environment.ProcessId}-{Guid.NewGuid():N}"));
                h = Posix.CreateNew(named, 384);
            }
            using (h)
            using (var w = new DirectWriter())
            {
                if (!w.Begin(h, "direct write probe"))
                {
                    return false;
                }
                w.Append(new byte[Align]);
                w.Finish();
                return !w.Refused;
            }
        }
        catch (PosixException)
        {
            return false;
        }
        finally
        {
            if (named is not null)
            {
                try
                {
                    Posix.Unlink(named);
                }
                catch (PosixException)
                {
                    // already gone
                }
            }
        }
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            NativeMemory.AlignedFree(_buffer);
            _buffer = null;
        }
    }
}
