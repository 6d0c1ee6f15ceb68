using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;

namespace Strata.Benchmarks;

/// <summary>
/// The in-memory index with one million blobs in 1,000 packs (about a 1 TB repository of 1 MiB chunks): loading
/// it as LoadIndexAsync does (bulk, then sorted), and looking blobs up, half of them present.
/// </summary>
[BenchmarkCategory("index")]
public class IndexBenchmarks
{
    public const int Blobs = 1_000_000;
    private const int PerPack = 1_000;
    private List<CatalogEntry>[] _packs = [];
    private BlobId[] _probes = [];
    private RepoIndex _index = null!;
    private ConcurrentDictionary<BlobId, IndexEntry> _dictionary = null!;

    [GlobalSetup]
    public void Setup()
    {
        _packs = Packs();
        var rng = new Random(2);
        _probes = new BlobId[Blobs];
        for (int i = 0; i < Blobs; i++)
        {
            _probes[i] = i % 2 == 0 ? _packs[rng.Next(_packs.Length)][rng.Next(PerPack)].Id : RandomId(rng);
        }
        _index = Load(_packs);
        _dictionary = LoadDictionary(_packs);
    }

    public static List<CatalogEntry>[] Packs()
    {
        var rng = new Random(1);
        var packs = new List<CatalogEntry>[Blobs / PerPack];
        for (int p = 0; p < packs.Length; p++)
        {
            packs[p] = new List<CatalogEntry>(PerPack);
            long offset = 0;
            for (int i = 0; i < PerPack; i++)
            {
                int raw = rng.Next(512 << 10, 8 << 20);
                int stored = raw / 2;
                packs[p].Add(new CatalogEntry(RandomId(rng), BlobKind.Data, true, offset, stored, raw));
                offset += stored;
            }
        }
        return packs;
    }

    private static BlobId RandomId(Random rng) => new((ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.NextInt64(), (ulong)rng.NextInt64());

    public static RepoIndex Load(List<CatalogEntry>[] packs)
    {
        var index = new RepoIndex();
        index.BeginBulkLoad();
        for (int p = 0; p < packs.Length; p++)
        {
            index.AddPack(new BlobId(0, 0, 0, (ulong)p), PackKind.Data, 1L << 32, packs[p]);
        }
        index.EndBulkLoad();
        return index;
    }

    /// <summary>The index before the sorted table: one dictionary entry per blob (kept for the memory comparison).</summary>
    public static ConcurrentDictionary<BlobId, IndexEntry> LoadDictionary(List<CatalogEntry>[] packs)
    {
        var d = new ConcurrentDictionary<BlobId, IndexEntry>();
        for (int p = 0; p < packs.Length; p++)
        {
            foreach (CatalogEntry e in packs[p])
            {
                d.TryAdd(e.Id, new IndexEntry(p, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed));
            }
        }
        return d;
    }

    [Benchmark(Description = "load 1M blobs (bulk add + sort)")]
    public int LoadIndex() => Load(_packs).BlobCount;

    [Benchmark(Description = "1M lookups, half present")]
    public int Lookups()
    {
        int found = 0;
        foreach (BlobId id in _probes)
        {
            if (_index.Contains(id))
            {
                found++;
            }
        }
        return found;
    }

    [Benchmark(Description = "1M lookups, half present, in the dictionary of before")]
    public int DictionaryLookups()
    {
        int found = 0;
        foreach (BlobId id in _probes)
        {
            if (_dictionary.ContainsKey(id))
            {
                found++;
            }
        }
        return found;
    }

    /// <summary>`-- index-memory`: bytes each blob keeps on the managed heap, the sorted table against a dictionary.</summary>
    public static void PrintMemory(TextWriter o)
    {
        var packs = Packs();
        long Retained(Func<object> build)
        {
            long before = GC.GetTotalMemory(forceFullCollection: true);
            object kept = build();
            long after = GC.GetTotalMemory(forceFullCollection: true);
            GC.KeepAlive(kept);
            return after - before;
        }
        long table = Retained(() => Load(packs));
        long dictionary = Retained(() => LoadDictionary(packs));
        o.WriteLine($"index memory, {Blobs:N0} blobs in {packs.Length:N0} packs (managed heap kept after a full GC):");
        o.WriteLine($"  RepoIndex (sorted 38-byte slots): {table / (double)Blobs:F1} bytes per blob");
        o.WriteLine($"  ConcurrentDictionary<BlobId, IndexEntry> (before): {dictionary / (double)Blobs:F1} bytes per blob");
    }
}
