using System.Runtime.CompilerServices;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;

namespace Strata.Core.Tests.Index;

/// <summary>The in-memory index: the sorted 38-byte table a load builds, the dictionary beside it, and which copy of a blob wins.</summary>
public sealed class RepoIndexTests
{
    private static BlobId RandomId(Random rng)
    {
        byte[] b = new byte[32];
        rng.NextBytes(b);
        return BlobId.Read(b);
    }

    private static List<CatalogEntry> RandomEntries(Random rng, int count)
    {
        var list = new List<CatalogEntry>(count);
        long offset = 0;
        for (int i = 0; i < count; i++)
        {
            int raw = rng.Next(0, 9 << 20);
            int stored = rng.Next(2) == 0 ? raw + 16 : rng.Next(16, raw + 17);
            list.Add(new CatalogEntry(RandomId(rng), (BlobKind)rng.Next(0, 3), rng.Next(2) == 0, offset, stored, raw));
            offset = (offset + stored) % (1L << 31); // within a slot's u32 offset
        }
        return list;
    }

    private static BlobId PackId(int n) => new(0xFEED, 0, 0, (ulong)n);

    [Fact]
    public void A_slot_is_38_bytes()
    {
        Assert.Equal(38, Unsafe.SizeOf<RepoIndex.Slot>());
        Assert.Equal(RepoIndex.Slot.Size, Unsafe.SizeOf<RepoIndex.Slot>());
    }

    [Fact]
    public void A_bulk_load_finds_every_blob_at_its_exact_location_and_nothing_else()
    {
        var rng = new Random(7);
        var index = new RepoIndex();
        var packs = Enumerable.Range(0, 40).Select(_ => RandomEntries(rng, rng.Next(0, 3000))).ToList();
        index.BeginBulkLoad();
        // As LoadIndexAsync does: several segment readers add packs at once.
        Parallel.For(0, packs.Count, i => index.AddPack(PackId(i), PackKind.Data, 1 << 30, packs[i]));
        index.EndBulkLoad();

        int total = packs.Sum(p => p.Count);
        Assert.Equal(total, index.BlobCount);
        Assert.InRange(index.ApproximateBytes, total * 38L, total * 38.5);
        foreach (var (entries, i) in packs.Select((p, i) => (p, i)))
        {
            int number = index.FindPack(PackId(i))!.Number;
            foreach (CatalogEntry e in entries)
            {
                Assert.True(index.TryGet(e.Id, out IndexEntry got));
                Assert.Equal(new IndexEntry(number, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed), got);
            }
        }
        for (int i = 0; i < 1000; i++)
        {
            Assert.False(index.Contains(RandomId(rng)));
        }
    }

    [Fact]
    public void Locations_at_the_edges_of_a_slot_fit_and_larger_ones_go_to_the_dictionary_unchanged()
    {
        var rng = new Random(11);
        const int max24 = (1 << 24) - 1;
        var edge = new CatalogEntry(RandomId(rng), BlobKind.TreeBundle, true, uint.MaxValue, max24, max24);
        var farOffset = new CatalogEntry(RandomId(rng), BlobKind.Data, false, 5L << 30, 100, 100);
        var bigBlob = new CatalogEntry(RandomId(rng), BlobKind.Tree, true, 0, 20 << 20, 40 << 20);
        var index = new RepoIndex();
        index.BeginBulkLoad();
        index.AddPack(PackId(1), PackKind.Data, 6L << 30, [edge, farOffset, bigBlob]);
        index.EndBulkLoad();

        Assert.Equal(3, index.BlobCount);
        Assert.Equal(38 + 8 + (2 * 72L), index.ApproximateBytes); // one slot, a one-bucket table (two starts), two dictionary entries
        foreach (CatalogEntry e in new[] { edge, farOffset, bigBlob })
        {
            Assert.True(index.TryGet(e.Id, out IndexEntry got));
            Assert.Equal(new IndexEntry(0, e.Offset, e.StoredLength, e.RawLength, e.Kind, e.Compressed), got);
        }
    }

    [Fact]
    public void A_blob_indexed_first_keeps_its_location()
    {
        var rng = new Random(3);
        BlobId shared = RandomId(rng);
        CatalogEntry At(long offset) => new(shared, BlobKind.Data, true, offset, 10, 20);
        var index = new RepoIndex();

        // Before a bulk load (in the dictionary), then in the load, then after it.
        index.AddPack(PackId(0), PackKind.Data, 100, [At(0)]);
        index.BeginBulkLoad();
        index.AddPack(PackId(1), PackKind.Data, 100, [At(10), .. RandomEntries(rng, 50)]);
        index.AddPack(PackId(2), PackKind.Data, 100, [At(20)]);
        index.EndBulkLoad();
        index.AddPack(PackId(3), PackKind.Data, 100, [At(30)]);

        Assert.True(index.TryGet(shared, out IndexEntry e));
        Assert.Equal((0, 0L), (e.Pack, e.Offset));
        Assert.Equal(51, index.BlobCount);
        Assert.InRange(index.ApproximateBytes, 51 * 38L, 51 * 38.5); // the dictionary's blob moved into the table

        // Duplicates within one load: one of the copies, whole.
        var second = new RepoIndex();
        second.BeginBulkLoad();
        second.AddPack(PackId(1), PackKind.Data, 100, [At(10)]);
        second.AddPack(PackId(2), PackKind.Data, 100, [At(20)]);
        second.EndBulkLoad();
        Assert.True(second.TryGet(shared, out IndexEntry d));
        Assert.Contains((d.Pack, d.Offset), new[] { (0, 10L), (1, 20L) });
        Assert.Equal(1, second.BlobCount);
    }

    [Fact]
    public void A_second_load_merges_with_what_is_indexed_and_blobs_added_while_backing_up_are_found()
    {
        var rng = new Random(5);
        var first = RandomEntries(rng, 5000);
        var second = RandomEntries(rng, 5000);
        var later = RandomEntries(rng, 300);
        var index = new RepoIndex();
        index.BeginBulkLoad();
        index.AddPack(PackId(0), PackKind.Data, 1 << 30, first);
        index.EndBulkLoad();
        index.BeginBulkLoad();
        index.AddPack(PackId(1), PackKind.Data, 1 << 30, [.. second, first[17]]);
        index.EndBulkLoad();
        // A backup's new packs, added while other threads look blobs up.
        Parallel.For(0, 3, i =>
        {
            if (i == 0)
            {
                index.AddPack(PackId(2), PackKind.Tree, 1 << 20, later);
            }
            else
            {
                foreach (CatalogEntry e in first)
                {
                    Assert.True(index.Contains(e.Id));
                }
            }
        });

        Assert.Equal(10_300, index.BlobCount);
        Assert.True(index.TryGet(first[17].Id, out IndexEntry kept));
        Assert.Equal(0, kept.Pack);
        foreach (var (list, pack) in new[] { (first, 0), (second, 1), (later, 2) })
        {
            foreach (CatalogEntry e in list)
            {
                Assert.True(index.TryGet(e.Id, out IndexEntry got));
                Assert.Equal(pack, got.Pack);
                Assert.Equal(e.Offset, got.Offset);
            }
        }
    }

    [Fact]
    public void Band_packs_are_listed_but_their_blobs_are_not_indexed()
    {
        var rng = new Random(9);
        var entries = RandomEntries(rng, 10);
        var index = new RepoIndex();
        index.BeginBulkLoad();
        index.AddPack(PackId(0), PackKind.Band, 100, entries);
        index.EndBulkLoad();
        Assert.True(index.HasPack(PackId(0)));
        Assert.Equal(0, index.BlobCount);
        Assert.False(index.Contains(entries[0].Id));
    }

    [Fact]
    public void Ids_are_compared_on_their_first_24_bytes()
    {
        var rng = new Random(13);
        var entries = RandomEntries(rng, 100);
        var index = new RepoIndex();
        index.BeginBulkLoad();
        index.AddPack(PackId(0), PackKind.Data, 1 << 30, entries);
        index.EndBulkLoad();
        BlobId id = entries[42].Id;
        Assert.True(index.Contains(id with { D = id.D ^ 1 }));
        Assert.False(index.Contains(id with { C = id.C ^ 1 }));
    }

    [Fact]
    public void Bulk_loads_do_not_nest()
    {
        var index = new RepoIndex();
        Assert.Throws<InvalidOperationException>(index.EndBulkLoad);
        index.BeginBulkLoad();
        Assert.Throws<InvalidOperationException>(index.BeginBulkLoad);
    }
}
