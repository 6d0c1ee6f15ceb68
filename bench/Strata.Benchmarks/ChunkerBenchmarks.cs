using BenchmarkDotNet.Attributes;
using Strata.Chunking;
using Strata.Repository;

namespace Strata.Benchmarks;

// BenchmarkDotNet derives its runner from each benchmark class, so these are public and unsealed.

/// <summary>FastCDC over the whole buffer with the repository defaults (512 KiB / 1 MiB / 8 MiB), as the archiver cuts a file.</summary>
[BenchmarkCategory("chunker")]
public class ChunkerBenchmarks
{
    private FastCdc _cdc = null!;
    private byte[] _data = [];

    [Params(DataKind.Random, DataKind.Text)]
    public DataKind Data { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = TestData.Get(Data);
        var p = ChunkerParameters.Default;
        _cdc = new FastCdc(TestData.FixedKey(1), p.MinSize, p.AvgSize, p.MaxSize);
    }

    /// <summary>Returns the chunk count (about 64 for 64 MiB), so the loop cannot be optimised away.</summary>
    [Benchmark(Description = "FastCdc.NextCut 512K/1M/8M")]
    [BytesPerOperation(TestData.Size)]
    public int Chunk()
    {
        ReadOnlySpan<byte> rest = _data;
        int chunks = 0;
        while (!rest.IsEmpty)
        {
            rest = rest[_cdc.NextCut(rest)..];
            chunks++;
        }
        return chunks;
    }
}
