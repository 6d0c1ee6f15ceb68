using BenchmarkDotNet.Attributes;
using Strata.Crypto;
using Strata.Packs;

namespace Strata.Benchmarks;

/// <summary>
/// One 64 MiB data pack per operation: PackWriter (key wrap, then for each of 64 raw 1 MiB blobs an AES-GCM seal,
/// a file write and the pack's SHA-256), Finish (sealed catalog, trailer, read-back check) and deleting the
/// file. Blob ids are computed in setup: hashing is measured on its own. The temp file usually stays in the
/// page cache, so this is CPU cost, not disk speed.
/// </summary>
[BenchmarkCategory("pack writing")]
public class PackWriterBenchmarks
{
    private MasterKeys _keys = null!;
    private byte[] _data = [];
    private BlobId[] _ids = [];
    private DirectoryInfo _dir = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _keys = MasterKeys.CreateNew();
        _data = TestData.Get(DataKind.Random);
        _ids = new BlobId[TestData.Chunks];
        for (int i = 0; i < _ids.Length; i++)
        {
            _ids[i] = _keys.IdOf(TestData.Chunk(_data, i));
        }
        _dir = Directory.CreateTempSubdirectory("strata-bench-");
    }

    [GlobalCleanup]
    public void Cleanup() => _dir.Delete(recursive: true);

    [Benchmark(Description = "PackWriter.Add x64 + Finish, 1 MiB raw blobs")]
    [BytesPerOperation(TestData.Size)]
    public long WritePack()
    {
        string path = Path.Combine(_dir.FullName, $"{_next++}.pack");
        using var writer = new PackWriter(path, PackKind.Data, _keys);
        for (int i = 0; i < TestData.Chunks; i++)
        {
            writer.Add(_ids[i], BlobKind.Data, TestData.Chunk(_data, i), compressed: false, TestData.ChunkSize);
        }
        FinishedPack pack = writer.Finish();
        File.Delete(path);
        return pack.Length;
    }
}
