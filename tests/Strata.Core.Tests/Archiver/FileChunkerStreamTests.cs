using Strata.Archiver;
using Strata.Chunking;
using Strata.Platform;

namespace Strata.Core.Tests.Archiver;

public sealed class FileChunkerStreamTests
{
    /// <summary>A pipe delivers odd-sized reads; the cuts must still be those of the same bytes read from a file.</summary>
    private sealed class TricklingStream(byte[] data) : MemoryStream(data)
    {
        private int _next = 1;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _next = (_next * 7919 % 65521) + 1;
            return base.ReadAsync(buffer[..Math.Min(buffer.Length, _next)], cancellationToken);
        }
    }

    [Fact]
    public async Task A_stream_is_cut_exactly_like_a_dense_file_of_the_same_bytes()
    {
        var chunker = new FastCdc(new byte[32], 4096, 16384, 65536);
        byte[] data = new byte[1_000_003];
        new Random(7).NextBytes(data);
        data.AsSpan(300_000, 200_000).Clear();
        string path = Path.Combine(Path.GetTempPath(), $"strata-chunker-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, data);
        try
        {
            var fromFile = new List<byte[]>();
            using (var handle = File.OpenHandle(path))
            {
                var (total, _, sparse) = await FileChunker.ReadAsync(handle, Posix.FStat(handle), chunker, new byte[chunker.MaxSize * 2], c =>
                {
                    fromFile.Add(c.ToArray());
                    return ValueTask.CompletedTask;
                });
                Assert.Equal(data.Length, total);
                Assert.False(sparse);
            }
            var fromStream = new List<byte[]>();
            long seen = 0;
            long read = await FileChunker.ReadStreamAsync(new TricklingStream(data), chunker, new byte[chunker.MaxSize * 2], c =>
            {
                fromStream.Add(c.ToArray());
                return ValueTask.CompletedTask;
            }, n => seen += n, CancellationToken.None);
            Assert.Equal(data.Length, read);
            Assert.Equal(data.Length, seen);
            Assert.True(fromFile.Count > 10);
            Assert.Equal(fromFile.Count, fromStream.Count);
            for (int i = 0; i < fromFile.Count; i++)
            {
                Assert.True(fromFile[i].AsSpan().SequenceEqual(fromStream[i]), $"chunk {i} differs");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The reference: NextCut over the whole input at once. Reading through a buffer of any size (as small as one byte
    /// over the largest chunk) and in odd-sized reads must give exactly these cuts, or existing repositories would stop
    /// deduplicating.
    /// </summary>
    [Theory]
    [InlineData(65536 + 1)]
    [InlineData(65536 + 16384)]
    [InlineData(2 * 65536)]
    [InlineData(5 * 65536)]
    public async Task Cuts_do_not_depend_on_the_buffer_size(int bufferSize)
    {
        var chunker = new FastCdc(new byte[32], 4096, 16384, 65536);
        byte[] data = new byte[700_001];
        new Random(11).NextBytes(data);
        data.AsSpan(100_000, 150_000).Clear(); // no boundary in here: max-size cuts
        var expected = new List<int>();
        for (int at = 0; at < data.Length;)
        {
            int cut = chunker.NextCut(data.AsSpan(at));
            expected.Add(cut);
            at += cut;
        }
        Assert.Contains(chunker.MaxSize, expected);
        Assert.True(expected.Count > 20);

        var got = new List<int>();
        await FileChunker.ReadStreamAsync(new TricklingStream(data), chunker, new byte[bufferSize], c =>
        {
            got.Add(c.Length);
            return ValueTask.CompletedTask;
        }, _ => { }, CancellationToken.None);
        Assert.Equal(expected, got);
        // With the default parameters (8 MiB largest chunk) a backup worker's buffer is 10 MiB.
        Assert.Equal(10 << 20, FileChunker.BufferSize(new FastCdc(new byte[32], 512 << 10, 1 << 20, 8 << 20)));
    }

    [Fact]
    public async Task An_empty_stream_gives_no_chunks()
    {
        var chunker = new FastCdc(new byte[32], 4096, 16384, 65536);
        int chunks = 0;
        long read = await FileChunker.ReadStreamAsync(new MemoryStream(), chunker, new byte[chunker.MaxSize * 2], _ =>
        {
            chunks++;
            return ValueTask.CompletedTask;
        }, _ => { }, CancellationToken.None);
        Assert.Equal(0, read);
        Assert.Equal(0, chunks);
    }

    [Fact]
    public async Task Reads_touch_only_the_front_of_the_buffer_until_a_chunk_runs_long()
    {
        // Default parameters: 10 MiB buffer, 2 MiB read step. Random data cuts near the 1 MiB average, so no read ever
        // reaches past a few MiB; the buffer's last 5 MiB (kept for 8 MiB chunks) must never be written, which is
        // what keeps those pages out of a backup's memory.
        var chunker = new FastCdc(new byte[32], 512 << 10, 1 << 20, 8 << 20);
        byte[] data = new byte[24 << 20];
        new Random(11).NextBytes(data);
        string path = Path.Combine(Path.GetTempPath(), $"strata-chunker-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(path, data);
        try
        {
            byte[] buffer = new byte[FileChunker.BufferSize(chunker)];
            Array.Fill(buffer, (byte)0xA5);
            var cuts = new List<int>();
            using (var handle = File.OpenHandle(path))
            {
                var (total, _, _) = await FileChunker.ReadAsync(handle, Posix.FStat(handle), chunker, buffer, c =>
                {
                    cuts.Add(c.Length);
                    return ValueTask.CompletedTask;
                });
                Assert.Equal(data.Length, total);
            }
            Assert.True(cuts.Max() < 3 << 20, $"largest chunk {cuts.Max()}");
            Assert.True(buffer.AsSpan(5 << 20).IndexOfAnyExcept((byte)0xA5) < 0, "the far end of the buffer was written");

            // The same cuts as one pass of NextCut over the whole input.
            var expected = new List<int>();
            for (int at = 0; at < data.Length;)
            {
                int cut = chunker.NextCut(data.AsSpan(at));
                expected.Add(cut);
                at += cut;
            }
            Assert.Equal(expected, cuts);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
