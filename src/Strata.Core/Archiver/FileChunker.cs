using Microsoft.Win32.SafeHandles;
using Strata.Chunking;
using Strata.Platform;
using Strata.Snapshots;

namespace Strata.Archiver;

/// <summary>
/// How a file becomes chunks: dense files are cut with FastCDC from start to end; sparse files (fewer blocks than
/// their size) region by region, holes skipped, and the regions are recorded as extents. Shared by backup and
/// verify, so both compute the same blob ids for the same bytes.
/// </summary>
internal static class FileChunker
{
    /// <summary>
    /// The read buffer for a chunker: its largest chunk plus a quarter. Only the bytes after the last cut are moved to
    /// the front between reads (see <see cref="EmitDecidedAsync"/>), so a small margin costs little copying, and each
    /// backup worker holds 10 MiB instead of twice the largest chunk (16 MiB) with the default parameters.
    /// </summary>
    public static int BufferSize(FastCdc chunker) => chunker.MaxSize + Math.Max(chunker.MaxSize / 4, 64 * 1024);

    /// <summary>How much a file read adds to the buffer at a time: two average chunks (at least 256 KiB).</summary>
    public static int ReadStep(FastCdc chunker) => Math.Max(chunker.AvgSize * 2, 256 << 10);

    /// <summary>
    /// Emits every chunk of buffer[0..filled) whose end is already decided, and returns where the undecided rest starts.
    /// A boundary FastCDC finds before the end of the data depends only on the bytes before it, so it is the cut a longer
    /// read would find too; a cut at the very end of the data is not decided until more bytes (or the end of input)
    /// arrive, unless it is a max-size cut. The cuts are therefore the same for any buffer size and read pattern.
    /// </summary>
    private static async ValueTask<int> EmitDecidedAsync(FastCdc chunker, byte[] buffer, int filled, bool eof, Func<ReadOnlyMemory<byte>, ValueTask> emit)
    {
        int start = 0;
        while (filled > start)
        {
            int available = filled - start;
            int cut = chunker.NextCut(buffer.AsSpan(start, available));
            if (cut == available && available < chunker.MaxSize && !eof)
            {
                break;
            }
            await emit(buffer.AsMemory(start, cut)).ConfigureAwait(false);
            start += cut;
        }
        return start;
    }

    /// <summary>
    /// Reads the open file and hands each chunk to <paramref name="emit"/> in order. <paramref name="buffer"/> must be
    /// longer than the chunker's largest chunk (<see cref="BufferSize"/>). The chunk passed to <paramref name="emit"/> is
    /// only valid until it returns.
    /// </summary>
    /// <returns>Bytes read; the data regions for a sparse file (empty for a dense one); whether it was read as sparse.</returns>
    public static async Task<(long Total, List<Extent> Extents, bool Sparse)> ReadAsync(SafeFileHandle handle, FileStat before, FastCdc chunker, byte[] buffer, Func<ReadOnlyMemory<byte>, ValueTask> emit)
    {
        bool sparse = before.Size > 0 && before.Blocks * 512 < before.Size;
        List<(long Offset, long Length)> regions = sparse ? Posix.DataExtents(handle, before.Size) : [(0, long.MaxValue)];
        var extents = new List<Extent>();
        long total = 0;
        foreach (var (regionOffset, regionLength) in regions)
        {
            long pos = regionOffset;
            long end = regionLength == long.MaxValue ? long.MaxValue : regionOffset + regionLength;
            int filled = 0;
            bool eof = false;
            long regionBytes = 0;
            while (true)
            {
                // Read a few average chunks at a time, not the whole buffer: the buffer's far end (room for a largest
                // chunk) is then touched only when a chunk really runs that long, so its pages stay out of memory.
                int fillTo = (int)Math.Min(buffer.Length, filled + (long)ReadStep(chunker));
                while (!eof && filled < fillTo)
                {
                    int want = (int)Math.Min(fillTo - filled, end - pos);
                    if (want <= 0)
                    {
                        eof = true;
                        break;
                    }
                    int n = RandomAccess.Read(handle, buffer.AsSpan(filled, want), pos);
                    if (n == 0)
                    {
                        eof = true;
                        break;
                    }
                    filled += n;
                    pos += n;
                }
                if (filled == 0)
                {
                    break;
                }
                int start = await EmitDecidedAsync(chunker, buffer, filled, eof, emit).ConfigureAwait(false);
                regionBytes += start;
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                }
                if (eof && filled == 0)
                {
                    break;
                }
            }
            if (sparse)
            {
                extents.Add(new Extent(regionOffset, regionBytes));
            }
            total += regionBytes;
        }
        return (total, extents, sparse);
    }

    /// <summary>
    /// Reads a stream to its end and hands each chunk to <paramref name="emit"/> in order, cut as a dense file of the
    /// same bytes would be (same buffer rules as <see cref="ReadAsync"/>). <paramref name="read"/> is told each read's
    /// size as it arrives (a stream's length is unknown). Returns the bytes read.
    /// </summary>
    public static async Task<long> ReadStreamAsync(Stream input, FastCdc chunker, byte[] buffer, Func<ReadOnlyMemory<byte>, ValueTask> emit, Action<int> read, CancellationToken ct)
    {
        int filled = 0;
        bool eof = false;
        long total = 0;
        while (true)
        {
            int fillTo = (int)Math.Min(buffer.Length, filled + (long)ReadStep(chunker));
            while (!eof && filled < fillTo)
            {
                int n = await input.ReadAsync(buffer.AsMemory(filled, fillTo - filled), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    eof = true;
                    break;
                }
                filled += n;
                total += n;
                read(n);
            }
            if (filled == 0)
            {
                return total;
            }
            int start = await EmitDecidedAsync(chunker, buffer, filled, eof, emit).ConfigureAwait(false);
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                filled -= start;
            }
            if (eof && filled == 0)
            {
                return total;
            }
        }
    }
}
