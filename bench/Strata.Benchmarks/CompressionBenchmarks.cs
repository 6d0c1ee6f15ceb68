using BenchmarkDotNet.Attributes;
using Strata.Compression;

namespace Strata.Benchmarks;

/// <summary>
/// zstd over 1 MiB chunks with one reused compressor, as each archiver worker holds one: Strata's
/// <see cref="ZstdCompressor"/>, which is native libzstd when it loads (Debian's libzstd1) and ZstdSharp otherwise,
/// so this measures what a backup runs. Throughput is of input (uncompressed) bytes.
/// </summary>
[BenchmarkCategory("compression")]
public class CompressionBenchmarks
{
    private readonly byte[] _output = new byte[ZstdCompressor.Bound(TestData.ChunkSize)];
    private ZstdCompressor _compressor = null!;
    private byte[] _data = [];

    [Params(DataKind.Random, DataKind.Text)]
    public DataKind Data { get; set; }

    [Params(1, 3)]
    public int Level { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = TestData.Get(Data);
        _compressor = new ZstdCompressor(Level);
    }

    [GlobalCleanup]
    public void Cleanup() => _compressor.Dispose();

    /// <summary>Returns the compressed size of the whole buffer.</summary>
    [Benchmark(Description = "zstd ZstdCompressor.Compress, 1 MiB chunks")]
    [BytesPerOperation(TestData.Size)]
    public long Compress()
    {
        long total = 0;
        for (int i = 0; i < TestData.Chunks; i++)
        {
            total += _compressor.Compress(TestData.Chunk(_data, i), _output);
        }
        return total;
    }
}

/// <summary>
/// zstd decompression of 1 MiB chunks compressed at level 3 (the default cold and warm level), throughput of
/// output bytes, with the per-thread decompressor restore uses (<see cref="ZstdDecompressor.ForThread"/>).
/// Random input is included for scale only: the archiver stores incompressible blobs raw.
/// </summary>
[BenchmarkCategory("decompression")]
public class DecompressionBenchmarks
{
    private readonly byte[] _output = new byte[TestData.ChunkSize];
    private byte[][] _compressed = [];

    [Params(DataKind.Random, DataKind.Text)]
    public DataKind Data { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] data = TestData.Get(Data);
        using var c = new ZstdCompressor(3);
        _compressed = new byte[TestData.Chunks][];
        for (int i = 0; i < TestData.Chunks; i++)
        {
            _compressed[i] = c.Compress(TestData.Chunk(data, i));
        }
        long total = _compressed.Sum(b => (long)b.Length);
        Console.WriteLine($"// {Data}: zstd level 3 stores {TestData.Size} bytes in {total} ({(double)TestData.Size / total:F2}x)");
    }

    [Benchmark(Description = "zstd ZstdDecompressor.Decompress (level 3 data)")]
    [BytesPerOperation(TestData.Size)]
    public long Decompress()
    {
        long total = 0;
        foreach (byte[] blob in _compressed)
        {
            total += ZstdDecompressor.ForThread.Decompress(blob, _output);
        }
        return total;
    }
}
