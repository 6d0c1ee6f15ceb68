using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;

namespace Strata.Core.Tests.Packs;

/// <summary>
/// Catalogs and index segments, version 2 (compressed columns, what strata writes) and version 1 (plain 52-byte
/// entries, built here by hand from docs/format.md §9.3 and §10, which strata still reads).
/// </summary>
public sealed class CatalogFormatTests
{
    private static readonly MasterKeys Keys = MasterKeys.CreateNew();

    /// <summary>Entries as a pack lays them out: back to back, with now and then a gap (a pack of another writer may have one).</summary>
    private static List<CatalogEntry> Entries(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<CatalogEntry>(count);
        long offset = 0;
        for (int i = 0; i < count; i++)
        {
            byte[] id = new byte[32];
            rng.NextBytes(id);
            int raw = rng.Next(0, 9 << 20);
            bool compressed = rng.Next(3) != 0;
            int stored = (compressed ? raw / 2 : raw) + Aead.Overhead;
            offset += rng.Next(10) == 0 ? rng.Next(1, 1000) : 0;
            list.Add(new CatalogEntry(BlobId.Read(id), (BlobKind)rng.Next(3), compressed, offset, stored, raw));
            offset += stored;
        }
        return list;
    }

    [Fact]
    public void A_catalog_comes_back_entry_for_entry_and_is_smaller_than_version_1()
    {
        Prop.ForAll(Gen.Choose(0, 3000).ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (count, seed) =>
        {
            List<CatalogEntry> entries = Entries(count, seed);
            byte[] sealedCatalog = PackCodec.SealCatalog(entries, Keys.IndexKey);
            List<CatalogEntry> back = PackCodec.OpenCatalog(sealedCatalog, Keys.IndexKey, "test", version: 2);
            bool smaller = count < 20 || sealedCatalog.Length < 4 + (count * CatalogEntry.Size);
            return back.SequenceEqual(entries) && smaller;
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Catalog_entries_cost_the_id_and_a_few_bytes_each()
    {
        // Random lengths up to 9 MiB: about 40 bytes an entry (on the benchmark's files, mostly small, about 36, the
        // cost model's figure); version 1 took 52. The id (32) is random and cannot shrink.
        List<CatalogEntry> entries = Entries(5000, 7);
        int size = PackCodec.SealCatalog(entries, Keys.IndexKey).Length;
        Assert.InRange(size / 5000.0, 32, 42);
    }

    [Fact]
    public void A_version_1_pack_tail_built_from_the_format_document_still_opens()
    {
        List<CatalogEntry> entries = Entries(40, 1);
        byte[] plain = new byte[4 + (entries.Count * 52)];
        BinaryPrimitives.WriteInt32LittleEndian(plain, entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            entries[i].Write(plain.AsSpan(4 + (i * 52)));
        }
        using var aead = new Aead(Keys.IndexKey);
        byte[] sealedCatalog = aead.Seal(plain, "strata catalog v1"u8);
        byte[] tail = new byte[sealedCatalog.Length + PackTrailer.Size];
        sealedCatalog.CopyTo(tail, 0);
        new PackTrailer(PackKind.Data, entries.Count, 1234, sealedCatalog.Length, new byte[KeyWrap.Size], Version: 1).Write(tail.AsSpan(sealedCatalog.Length));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(sealedCatalog.Length + 8)));

        var (trailer, back) = PackCodec.ParseTail(tail, Keys.IndexKey, "old pack");
        Assert.Equal(1, trailer.Version);
        Assert.Equal(entries, back);
    }

    [Fact]
    public void A_pack_of_an_unknown_version_or_a_catalog_that_does_not_match_its_trailer_is_refused_by_name()
    {
        List<CatalogEntry> entries = Entries(10, 2);
        byte[] sealedCatalog = PackCodec.SealCatalog(entries, Keys.IndexKey);
        byte[] tail = new byte[sealedCatalog.Length + PackTrailer.Size];
        sealedCatalog.CopyTo(tail, 0);

        new PackTrailer(PackKind.Data, entries.Count, 0, sealedCatalog.Length, new byte[KeyWrap.Size], Version: 3).Write(tail.AsSpan(sealedCatalog.Length));
        var e1 = Assert.Throws<RepositoryFormatException>(() => PackCodec.ParseTail(tail, Keys.IndexKey, "data/ab12"));
        Assert.Contains("data/ab12: pack format version 3 is not supported", e1.Message, StringComparison.Ordinal);

        new PackTrailer(PackKind.Data, entries.Count + 1, 0, sealedCatalog.Length, new byte[KeyWrap.Size]).Write(tail.AsSpan(sealedCatalog.Length));
        var e2 = Assert.Throws<CorruptionException>(() => PackCodec.ParseTail(tail, Keys.IndexKey, "data/ab12"));
        Assert.Contains("lists 10 blobs, the trailer says 11", e2.Message, StringComparison.Ordinal);

        // A version 2 catalog read as version 1 (or the reverse) fails cleanly instead of misreading entries.
        Assert.Throws<CorruptionException>(() => PackCodec.OpenCatalog(sealedCatalog, Keys.IndexKey, "x", version: 1));

        // A count that does not match what the frame holds.
        using var aead = new Aead(Keys.IndexKey);
        byte[] plain = aead.TryOpen(sealedCatalog, "strata catalog v1"u8)!;
        BinaryPrimitives.WriteInt32LittleEndian(plain, 11);
        var e3 = Assert.Throws<CorruptionException>(() => PackCodec.OpenCatalog(aead.Seal(plain, "strata catalog v1"u8), Keys.IndexKey, "catalogs/ab12"));
        Assert.Contains("catalogs/ab12: the catalog decompresses to", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_index_segment_comes_back_pack_for_pack_including_empty_packs_and_empty_segments()
    {
        var packs = new List<IndexSegment.PackEntries>();
        for (int i = 0; i < 6; i++)
        {
            byte[] id = new byte[32];
            Random.Shared.NextBytes(id);
            packs.Add(new IndexSegment.PackEntries(BlobId.Read(id), (PackKind)(i % 3), 1000 + i, Entries(i == 2 ? 0 : 200 * i, i)));
        }
        List<IndexSegment.PackEntries> back = IndexSegment.Open(IndexSegment.Seal(packs, Keys.IndexKey), Keys.IndexKey, "index/x");
        Assert.Equal(packs.Count, back.Count);
        for (int i = 0; i < packs.Count; i++)
        {
            Assert.Equal((packs[i].Id, packs[i].Kind, packs[i].Length), (back[i].Id, back[i].Kind, back[i].Length));
            Assert.Equal(packs[i].Entries, back[i].Entries);
        }
        Assert.Empty(IndexSegment.Open(IndexSegment.Seal([], Keys.IndexKey), Keys.IndexKey, "index/y"));
    }

    [Fact]
    public void A_version_1_index_segment_built_from_the_format_document_still_opens()
    {
        byte[] packId = new byte[32];
        Random.Shared.NextBytes(packId);
        List<CatalogEntry> entries = Entries(25, 3);
        byte[] plain = new byte[12 + 45 + (25 * 52)];
        "STRIDX01"u8.CopyTo(plain);
        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(8), 1);
        packId.CopyTo(plain, 12);
        plain[12 + 32] = (byte)PackKind.Tree;
        BinaryPrimitives.WriteInt64LittleEndian(plain.AsSpan(12 + 33), 987_654);
        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(12 + 41), 25);
        for (int i = 0; i < 25; i++)
        {
            entries[i].Write(plain.AsSpan(57 + (i * 52)));
        }
        using var aead = new Aead(Keys.IndexKey);
        var back = IndexSegment.Open(aead.Seal(plain, "strata index v1"u8), Keys.IndexKey, "index/old");
        IndexSegment.PackEntries p = Assert.Single(back);
        Assert.Equal(BlobId.Read(packId), p.Id);
        Assert.Equal(PackKind.Tree, p.Kind);
        Assert.Equal(987_654, p.Length);
        Assert.Equal(entries, p.Entries);
    }

    [Fact]
    public void A_damaged_index_segment_is_refused_by_name()
    {
        var packs = new List<IndexSegment.PackEntries> { new(BlobId.Read(new byte[32]), PackKind.Data, 5, Entries(30, 4)) };
        using var aead = new Aead(Keys.IndexKey);
        byte[] plain = aead.TryOpen(IndexSegment.Seal(packs, Keys.IndexKey), "strata index v1"u8)!;
        Assert.Equal("STRIDX02"u8.ToArray(), plain[..8]);

        byte[] wrongCount = (byte[])plain.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(wrongCount.AsSpan(12), 31);
        var e1 = Assert.Throws<CorruptionException>(() => IndexSegment.Open(aead.Seal(wrongCount, "strata index v1"u8), Keys.IndexKey, "index/ab"));
        Assert.StartsWith("index/ab: the index segment decompresses to", e1.Message, StringComparison.Ordinal);

        byte[] huge = (byte[])plain.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(huge.AsSpan(12), int.MaxValue);
        var e2 = Assert.Throws<CorruptionException>(() => IndexSegment.Open(aead.Seal(huge, "strata index v1"u8), Keys.IndexKey, "index/ab"));
        Assert.Contains("impossible counts", e2.Message, StringComparison.Ordinal);

        byte[] cut = plain[..^5];
        Assert.Throws<CorruptionException>(() => IndexSegment.Open(aead.Seal(cut, "strata index v1"u8), Keys.IndexKey, "index/ab"));
    }
}
