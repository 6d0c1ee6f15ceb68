using BenchmarkDotNet.Attributes;
using Strata.Crypto;

namespace Strata.Benchmarks;

/// <summary>The keyed blob id (HMAC-SHA-256 under the dedup key) of each 1 MiB chunk. Cost does not depend on content.</summary>
[BenchmarkCategory("hashing")]
public class HashingBenchmarks
{
    private readonly byte[] _dedupKey = TestData.FixedKey(2);
    private byte[] _data = [];

    [GlobalSetup]
    public void Setup() => _data = TestData.Get(DataKind.Random);

    [Benchmark(Description = "BlobId.Keyed (HMAC-SHA-256), 1 MiB chunks")]
    [BytesPerOperation(TestData.Size)]
    public ulong Keyed()
    {
        ulong x = 0;
        for (int i = 0; i < TestData.Chunks; i++)
        {
            x ^= BlobId.Keyed(_dedupKey, TestData.Chunk(_data, i)).A;
        }
        return x;
    }
}

/// <summary>
/// AES-256-GCM sealing of 1 MiB chunks into a reused buffer, the blob id as associated data, as PackWriter.Add
/// does; and the per-pack X25519 key wrap (ECIES) that PackWriter's constructor pays once per pack.
/// </summary>
[BenchmarkCategory("sealing")]
public class SealingBenchmarks
{
    private readonly byte[] _output = new byte[TestData.ChunkSize + Aead.Overhead];
    private readonly byte[] _associated = TestData.FixedKey(3);
    private readonly byte[] _contentKey = Aead.NewKey();
    private Aead _aead = null!;
    private byte[] _data = [];
    private byte[] _publicKey = [];
    private byte[] _privateKey = [];
    private byte[] _wrapped = [];

    [GlobalSetup]
    public void Setup()
    {
        _data = TestData.Get(DataKind.Random);
        _aead = new Aead(Aead.NewKey());
        (_privateKey, _publicKey) = KeyWrap.NewKeyPair();
        _wrapped = KeyWrap.Wrap(_publicKey, _contentKey);
    }

    [GlobalCleanup]
    public void Cleanup() => _aead.Dispose();

    [Benchmark(Description = "Aead.Seal (AES-256-GCM), 1 MiB chunks")]
    [BytesPerOperation(TestData.Size)]
    public byte Seal()
    {
        for (int i = 0; i < TestData.Chunks; i++)
        {
            _aead.Seal(TestData.Chunk(_data, i), _associated, _output);
        }
        return _output[^1];
    }

    /// <summary>One wrap per pack written: reported in ops/s.</summary>
    [Benchmark(Description = "KeyWrap.Wrap (X25519 + HKDF + GCM), per pack")]
    public byte[] Wrap() => KeyWrap.Wrap(_publicKey, _contentKey);

    /// <summary>One unwrap per pack read (restore, check --read-data): reported in ops/s.</summary>
    [Benchmark(Description = "KeyWrap.Unwrap, per pack")]
    public byte[]? Unwrap() => KeyWrap.Unwrap(_privateKey, _wrapped);
}
