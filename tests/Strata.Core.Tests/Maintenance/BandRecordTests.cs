using System.Buffers.Binary;
using Strata.Costs;
using Strata.Crypto;
using Strata.Maintenance;
using Strata.Packs;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Tests.Maintenance;

/// <summary>
/// Band records hold their trees in tree bundles (docs/format.md §12): every tree of the snapshot comes back out of
/// the band, an unchanged run names the band that holds its tree, and that band stays live while the unchanged
/// snapshot does, even after the snapshot that wrote it is forgotten.
/// </summary>
public sealed class BandRecordTests
{
    [Fact]
    public void A_bundle_splits_into_its_trees_and_a_damaged_length_is_named()
    {
        var bundle = new TreeBundle();
        var trees = new List<byte[]> { new byte[] { 1, 2, 3 }, Array.Empty<byte>(), new byte[70_000] };
        var keys = MasterKeys.CreateNew();
        foreach (byte[] t in trees)
        {
            Assert.True(bundle.Add(keys.IdOf(t), t));
        }
        Assert.False(bundle.Add(keys.IdOf(trees[0]), trees[0]));
        Assert.False(bundle.IsFull);
        byte[] plain = bundle.Take();
        Assert.True(bundle.IsEmpty);
        Assert.Equal(3, bundle.Count);
        Assert.Equal(trees, TreeBundle.Split(plain, "x"));

        BinaryPrimitives.WriteInt32LittleEndian(plain.AsSpan(3 + 4 + 4), 70_001);
        var e = Assert.Throws<CorruptionException>(() => TreeBundle.Split(plain, "data/ab blob cd"));
        Assert.Equal("data/ab blob cd: tree bundle entry 3 at byte 11 runs past the end of the bundle", e.Message);
    }

    [Fact]
    public async Task The_band_holds_every_tree_in_bundles_and_an_unchanged_run_keeps_the_band_it_points_at_alive()
    {
        await using var t = await TestRepository.CreateAsync(simulation: null);
        for (int i = 0; i < 40; i++)
        {
            t.Write($"d{i % 7}/sub{i % 3}/f{i}", TestRepository.RandomBytes(1000 + i, i));
        }
        SnapshotRef first = await t.BackupAsync();
        SnapshotRef again = await t.BackupAsync();
        Assert.Equal(1, again.Snapshot.UnchangedSince);
        Assert.Equal(first.Snapshot.Tree, again.Snapshot.Tree);
        Assert.NotNull(first.Snapshot.BandPack);
        Assert.Equal(first.Snapshot.BandPack, again.Snapshot.BandPack);

        // The band: one bundle (40 small directories fit in one) and the snapshot; the bundle's trees are exactly the snapshot's trees.
        Repo repo = await t.ReopenAsync();
        var bandName = new ObjectName(ObjectKind.Data, first.Snapshot.BandPack!);
        byte[] band = await repo.ReadWholeAsync(bandName, t.Ct);
        var (trailer, entries) = PackCodec.ParseTail(band, repo.Keys.IndexKey, bandName.Path);
        Assert.Equal(PackKind.Band, trailer.Kind);
        Assert.Equal([BlobKind.TreeBundle, BlobKind.Snapshot], entries.Select(e => e.Kind));
        using var aead = new Aead(KeyWrap.Unwrap(repo.Keys.PrivateKey!, trailer.WrappedKey)!);
        byte[] plain = PackCodec.OpenBlob(band.AsSpan((int)entries[0].Offset, entries[0].StoredLength), entries[0], aead, repo.Keys, "band");
        var bundled = TreeBundle.Split(plain, "band").Select(b => repo.Keys.IdOf(b)).ToHashSet();
        var walked = new HashSet<BlobId>();
        async Task Walk(BlobId id)
        {
            walked.Add(id);
            foreach (Node n in (await repo.LoadTreeAsync(id, t.Ct)).Nodes)
            {
                if (n.Subtree is { } sub)
                {
                    await Walk(sub);
                }
            }
        }
        await Walk(BlobId.Parse(first.Snapshot.Tree));
        // The source folder, its 7 folders and their 21, and the folders on the way to the source ("/var/tmp/...").
        Assert.True(walked.Count >= 1 + 7 + 21, $"{walked.Count} trees");
        Assert.Equal(walked, bundled);

        // Forget the first snapshot: the unchanged one still needs the band.
        await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Snapshots, first.Id), t.Ct);
        repo.PackCatalogs.Clear();
        await repo.LoadIndexAsync(t.Ct, keepCatalogs: true);
        PrunePlan plan = await PrunePlanner.PlanAsync(repo, new Pricing(PriceTable.LoadDefault(), "aws-s3", "DEEP_ARCHIVE", "STANDARD"), new PruneSettings(), t.Ct);
        var bandPlan = Assert.Single(plan.Packs, p => p.Kind == PackKind.Band);
        Assert.Equal(first.Snapshot.BandPack, bandPlan.Id.ToString());
        Assert.Equal(PackStatus.Live, bandPlan.Status);
    }
}
