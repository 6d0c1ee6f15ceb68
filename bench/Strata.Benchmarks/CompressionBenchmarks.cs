using BenchmarkDotNet.Attributes;
using ZstdSharp;

namespace Strata.Benchmarks;

/// <summary>
/// zstd (ZstdSharp, managed port) over 1 MiB chunks with one reused compressor, as each archiver worker holds one.
/// Throughput is of input (uncompressed) bytes.
/// </summary>
[BenchmarkCategory("compression")]
public class CompressionBenchmarks
{
    private readonly byte[] _output = new byte[Compressor.GetCompressBound(TestData.ChunkSize)];
    private Compressor _compressor = null!;
    private byte[] _data = [];

    [Params(DataKind.Random, DataKind.Text)]
    public DataKind Data { get; set; }

    [Params(1, 3)]
    public int Level { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = TestData.Get(Data);
        _compressor = new Compressor(Level);
    }

    [GlobalCleanup]
    public void Cleanup() => _compressor.Dispose();

    /// <summary>Returns the compressed size of the whole buffer.</summary>
    [Benchmark(Description = "zstd Compressor.Wrap, 1 MiB chunks")]
    [BytesPerOperation(TestData.Size)]
    public long Compress()
    {
        long total = 0;
        for (int i = 0; i < TestData.Chunks; i++)
        {
            total += _compressor.Wrap(TestData.Chunk(_data, i), _output);
        }
        return total;
    }
}

/// <summary>
/// zstd decompression of 1 MiB chunks compressed at level 3 (the default cold and warm level), throughput of
/// output bytes: with one reused decompressor, and with a new one per blob as PackCodec.OpenBlob does today.
/// Random input is included for scale only: the archiver stores incompressible blobs raw.
/// </summary>
[BenchmarkCategory("decompression")]
public class DecompressionBenchmarks
{
    private readonly byte[] _output = new byte[TestData.ChunkSize];
    private byte[][] _compressed = [];
    private Decompressor _decompressor = null!;

    [Params(DataKind.Random, DataKind.Text)]
    public DataKind Data { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] data = TestData.Get(Data);
        using var c = new Compressor(3);
        _compressed = new byte[TestData.Chunks][];
        for (int i = 0; i < TestData.Chunks; i++)
        {
            _compressed[i] = c.Wrap(TestData.Chunk(data, i)).ToArray();
        }
        long total = _compressed.Sum(b => (long)b.Length);
        Console.WriteLine($"// {Data}: zstd level 3 stores {TestData.Size} bytes in {total} ({(double)TestData.Size / total:F2}x)");
        _decompressor = new Decompressor();
    }

    [GlobalCleanup]
    public void Cleanup() => _decompressor.Dispose();

    [Benchmark(Description = "zstd Decompressor.Unwrap (level 3 data), reused decompressor")]
    [BytesPerOperation(TestData.Size)]
    public long Decompress()
    {
        long total = 0;
        foreach (byte[] blob in _compressed)
        {
            total += _decompressor.Unwrap(blob, _output);
        }
        return total;
    }

    [Benchmark(Description = "zstd Decompressor.Unwrap (level 3 data), new decompressor per blob")]
    [BytesPerOperation(TestData.Size)]
    public long DecompressNewPerBlob()
    {
        long total = 0;
        foreach (byte[] blob in _compressed)
        {
            using var d = new Decompressor();
            total += d.Unwrap(blob, _output);
        }
        return total;
    }
}
