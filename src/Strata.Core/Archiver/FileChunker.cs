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
    /// Reads the open file and hands each chunk to <paramref name="emit"/> in order. <paramref name="buffer"/> must hold
    /// twice the chunker's largest chunk: cuts are made while a whole max-size chunk is buffered, and the remainder
    /// is moved to the front at most once per MaxSize bytes consumed. The chunk passed to <paramref name="emit"/> is
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
                while (!eof && filled < buffer.Length)
                {
                    int want = (int)Math.Min(buffer.Length - filled, end - pos);
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
                int start = 0;
                while (filled - start >= chunker.MaxSize || (eof && filled > start))
                {
                    int cut = chunker.NextCut(buffer.AsSpan(start, filled - start));
                    await emit(buffer.AsMemory(start, cut)).ConfigureAwait(false);
                    start += cut;
                    regionBytes += cut;
                }
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
            while (!eof && filled < buffer.Length)
            {
                int n = await input.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
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
            int start = 0;
            while (filled - start >= chunker.MaxSize || (eof && filled > start))
            {
                int cut = chunker.NextCut(buffer.AsSpan(start, filled - start));
                await emit(buffer.AsMemory(start, cut)).ConfigureAwait(false);
                start += cut;
            }
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
