using Strata.Archiver;
using Strata.Costs;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Platform;
using Strata.Repository;
using Strata.Restorer;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Tests.Costs;

/// <summary>
/// estimate restore / storage / backup and stats through the Strata.Core APIs, on a small local repository whose data
/// packs (1 MiB, so a few files make several) are in the simulated cold tier (priced as AWS Deep Archive). Nothing here thaws or reads a data pack.
/// </summary>
public sealed class RepositoryCostTests : IAsyncLifetime
{
    private const long MiB = 1L << 20;
    private readonly string _root = Path.Combine("/var/tmp", "strata-costs-" + Guid.NewGuid().ToString("N"));
    private readonly PriceTable _prices = PriceTable.LoadDefault();
    private string Source => Path.Combine(_root, "src");
    private string Cache => Path.Combine(_root, "cache");
    private Repo _repo = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Source);
        var store = new LocalStore(Path.Combine(_root, "repo"));
        store.EnableColdSimulation(new ColdSimulation(3600));
        RepoConfig config = RepoConfig.CreateNew(DateTimeOffset.UtcNow, coldPackSize: 1 * MiB);
        _repo = await Repo.InitAsync(store, "pw", config, MasterKeys.CreateNew(), TimeProvider.System, CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _repo.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private void WriteRandom(string relative, long size, int seed)
    {
        string path = Path.Combine(Source, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        byte[] data = new byte[size];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(path, data);
    }

    private async Task<BackupResult> BackupAsync()
    {
        var options = new BackupOptions { Paths = [Source], Host = "test-host", Workers = 2 };
        return await new Archiver.Archiver(_repo, options, new BackupProgress(), new ParentTrees(_repo, Cache)).RunAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Estimate_restore_prices_exactly_the_data_packs_the_snapshot_needs()
    {
        WriteRandom("a/one.bin", 3 * MiB, 1);
        WriteRandom("a/two.bin", 3 * MiB, 2);
        WriteRandom("b/three.bin", 6 * MiB, 3);
        BackupResult backup = await BackupAsync();

        // The packs the snapshot's files need, found independently: walk the trees, map each content blob to its pack.
        var all = new Dictionary<BlobId, long>();
        var underA = new Dictionary<BlobId, long>();
        await TreeOps.WalkAsync(_repo, BlobId.Parse(backup.Snapshot.Tree), "", (path, node) =>
        {
            foreach (BlobId id in node.Content)
            {
                Assert.True(_repo.Index.TryGet(id, out IndexEntry e));
                PackRecord pack = _repo.Index.PackOf(e);
                Assert.Equal(PackKind.Data, pack.Kind);
                all[pack.Id] = pack.Length;
                if (path.Contains("/a/", StringComparison.Ordinal))
                {
                    underA[pack.Id] = pack.Length;
                }
            }
            return Task.FromResult(true);
        }, CancellationToken.None);
        Assert.True(underA.Count < all.Count, $"b/three.bin should have packs of its own (1 MiB packs, 6 MiB file): {underA.Count} of {all.Count}");

        RestorePlan plan = await RestorePlanner.PlanAsync(_repo, backup.Snapshot, new ExcludeMatcher([]), new ExcludeMatcher([]), CancellationToken.None);
        Assert.Equal(all.Keys.Order(), plan.ColdPacks.Select(p => p.Id).Order());
        foreach (bool inRegion in new[] { false, true })
        {
            RestoreEstimate est = CostModel.EstimateRestore(_prices, "aws-s3", "DEEP_ARCHIVE", plan.ColdPacks.Select(p => p.Bytes), 7, inRegion);
            Assert.Equal(all.Count, est.Packs);
            Assert.Equal(all.Values.Sum(), est.Bytes);
            StorageClassPrices deep = _prices.Class("aws-s3", "DEEP_ARCHIVE");
            decimal gb = all.Values.Sum() / (decimal)(1L << 30);
            foreach (TierEstimate t in est.Tiers)
            {
                RetrievalTier tier = deep.ThawTiers.Single(x => x.Tier == t.Tier);
                decimal expected = (gb * tier.UsdPerGb) + (all.Count * (tier.UsdPer1000 + deep.GetPer1000) / 1000m)
                    + (gb * _prices.Class("aws-s3", "STANDARD").BaseStorageRate * 7 / 30m);
                Assert.Equal(expected, t.TotalUsd); // a few MB: egress is inside the free allowance, in or out of region
            }
        }

        RestorePlan partial = await RestorePlanner.PlanAsync(_repo, backup.Snapshot, new ExcludeMatcher(["a"]), new ExcludeMatcher([]), CancellationToken.None);
        Assert.Equal(underA.Keys.Order(), partial.ColdPacks.Select(p => p.Id).Order());
        Assert.Equal(underA.Values.Sum(), CostModel.EstimateRestore(_prices, "aws-s3", "DEEP_ARCHIVE", partial.ColdPacks.Select(p => p.Bytes), 7, false).Bytes);
        // Planning never thawed anything.
        Assert.All(plan.ColdPacks, p => Assert.Equal(ThawState.Frozen, p.Status.State));
    }

    [Fact]
    public async Task Stats_counts_objects_by_kind_and_the_bytes_only_each_snapshot_holds()
    {
        WriteRandom("shared.bin", 3 * MiB, 10);
        WriteRandom("gone.bin", 2 * MiB, 11);
        BackupResult first = await BackupAsync();
        File.Delete(Path.Combine(Source, "gone.bin"));
        WriteRandom("new.bin", 1 * MiB + 12345, 12);
        BackupResult second = await BackupAsync();

        // Storage by kind: the listing matches the files on disk, and data packs are the only cold objects.
        IReadOnlyList<ListedObjects> listing = await RepositoryUsage.ListAsync(_repo.Store, CancellationToken.None);
        RepositoryStorageEstimate storage = RepositoryUsage.Price(_prices, _repo.Store.Properties, listing);
        string[] dataFiles = Directory.GetFiles(Path.Combine(_root, "repo", "data"), "*", SearchOption.AllDirectories);
        Assert.Equal(dataFiles.Length, storage.Objects(Tier.Cold));
        Assert.Equal(dataFiles.Sum(f => new FileInfo(f).Length), storage.Bytes(Tier.Cold));
        KindUsage data = Assert.Single(storage.Kinds, k => k.Tier == Tier.Cold);
        Assert.Equal(ObjectKind.Data, data.Kind);
        Assert.Equal("DEEP_ARCHIVE", data.Cost.StorageClass);
        Assert.Equal(CostModel.EstimateStorage(_prices, "aws-s3", "DEEP_ARCHIVE", dataFiles.Select(f => new FileInfo(f).Length)), data.Cost);
        Assert.All(storage.Kinds.Where(k => k.Tier == Tier.Warm), k => Assert.Equal("STANDARD", k.Cost.StorageClass));
        Assert.Equal(Directory.GetFiles(Path.Combine(_root, "repo", "snapshots")).Length, storage.Kinds.Single(k => k.Kind == ObjectKind.Snapshots).Objects);
        Assert.Equal(storage.MonthlyUsd(Tier.Warm) + storage.MonthlyUsd(Tier.Cold), storage.MonthlyUsd());

        // Bytes only each snapshot holds, against an independent walk.
        var snapshots = await _repo.ListSnapshotsAsync(CancellationToken.None);
        Assert.Equal([first.SnapshotId, second.SnapshotId], snapshots.Select(s => s.Id));
        IReadOnlyList<SnapshotUsage> usage = await RepositoryUsage.SnapshotsAsync(_repo, snapshots, CancellationToken.None);
        var sets = new List<(HashSet<BlobId> All, HashSet<BlobId> Data)>();
        foreach (SnapshotRef s in snapshots)
        {
            var allBlobs = new HashSet<BlobId> { BlobId.Parse(s.Snapshot.Tree) };
            var dataBlobs = new HashSet<BlobId>();
            await TreeOps.WalkAsync(_repo, BlobId.Parse(s.Snapshot.Tree), "", (_, node) =>
            {
                allBlobs.UnionWith(node.Content);
                dataBlobs.UnionWith(node.Content);
                if (node.Subtree is { } sub)
                {
                    allBlobs.Add(sub);
                }
                return Task.FromResult(true);
            }, CancellationToken.None);
            sets.Add((allBlobs, dataBlobs));
        }
        long Raw(IEnumerable<BlobId> ids) => ids.Sum(id => { Assert.True(_repo.Index.TryGet(id, out IndexEntry e)); return (long)e.RawLength; });
        long Stored(IEnumerable<BlobId> ids) => ids.Sum(id => { Assert.True(_repo.Index.TryGet(id, out IndexEntry e)); return (long)e.StoredLength; });
        for (int i = 0; i < 2; i++)
        {
            var onlyHere = sets[i].All.Except(sets[1 - i].All).ToList();
            Assert.Equal(sets[i].All.Count, usage[i].ReferencedBlobs);
            Assert.Equal(Raw(sets[i].All), usage[i].ReferencedRawBytes);
            Assert.Equal(onlyHere.Count, usage[i].UniqueBlobs);
            Assert.Equal(Raw(onlyHere), usage[i].UniqueRawBytes);
            Assert.Equal(Stored(onlyHere), usage[i].UniqueStoredBytes);
            Assert.Equal(0, usage[i].MissingBlobs);
        }
        // The file data only the first snapshot holds is gone.bin, byte for byte; the second's is new.bin.
        Assert.Equal(2 * MiB, Raw(sets[0].Data.Except(sets[1].Data)));
        Assert.Equal(1 * MiB + 12345, Raw(sets[1].Data.Except(sets[0].Data)));
        Assert.InRange(usage[0].UniqueRawBytes, 2 * MiB, (2 * MiB) + 64 * 1024);
        Assert.InRange(usage[1].UniqueRawBytes, 1 * MiB + 12345, 1 * MiB + 12345 + 64 * 1024);
    }

    [Fact]
    public async Task Estimate_backup_finds_only_new_data_after_dedup()
    {
        WriteRandom("old/one.bin", 3 * MiB, 20);
        WriteRandom("old/two.bin", 2 * MiB, 21);
        await BackupAsync();

        // Nothing changed: nothing new, nothing read (the previous snapshot says every file is unchanged).
        BackupScan same = await BackupEstimator.ScanAsync(_repo, [Source], new ExcludeMatcher([]), new ParentTrees(_repo, Cache), "test-host", CancellationToken.None);
        Assert.Equal(2, same.Files);
        Assert.Equal(2, same.FilesUnchanged);
        Assert.Equal(0, same.NewBytes);
        Assert.Equal(0, same.NewTrees);
        Assert.True(same.HasParent);

        // A copy of an old file dedups to nothing; a new random file is new byte for byte; an excluded one is not counted.
        File.Copy(Path.Combine(Source, "old", "one.bin"), Path.Combine(Source, "copy.bin"));
        WriteRandom("fresh.bin", (3 * MiB) + 777, 22);
        WriteRandom("skip.tmp", 5 * MiB, 23);
        BackupScan scan = await BackupEstimator.ScanAsync(_repo, [Source], new ExcludeMatcher(["*.tmp"]), new ParentTrees(_repo, Cache), "test-host", CancellationToken.None);
        Assert.Equal(4, scan.Files);
        Assert.Equal(2, scan.FilesUnchanged);
        Assert.Equal(2, scan.FilesRead);
        Assert.Equal((3 * MiB) + 777, scan.NewBytes);
        Assert.True(scan.NewTrees >= 1);

        // Without a parent every file is read, and dedup still finds the same new bytes.
        BackupScan cold = await BackupEstimator.ScanAsync(_repo, [Source], new ExcludeMatcher(["*.tmp"]), null, "test-host", CancellationToken.None);
        Assert.Equal(4, cold.FilesRead);
        Assert.Equal(scan.NewBytes, cold.NewBytes);

        // The estimate agrees with what the backup then writes.
        BackupEstimate e = CostModel.EstimateBackup(_prices, "aws-s3", "DEEP_ARCHIVE", "STANDARD",
            new BackupShape(scan.NewBytes, scan.NewBlobs, scan.NewTreeBytes, scan.NewTrees, scan.AllTreeBytes, scan.AllTrees, _repo.Config.Packs.ColdTargetSize, _repo.Config.Packs.WarmTargetSize));
        int dataBefore = Directory.GetFiles(Path.Combine(_root, "repo", "data"), "*", SearchOption.AllDirectories).Length;
        var options = new BackupOptions { Paths = [Source], Host = "test-host", Workers = 2, Filter = new SourceFilter(new FilterOptions { Excludes = ["*.tmp"] }) };
        BackupResult result = await new Archiver.Archiver(_repo, options, new BackupProgress(), new ParentTrees(_repo, Cache)).RunAsync(CancellationToken.None);
        int dataAfter = Directory.GetFiles(Path.Combine(_root, "repo", "data"), "*", SearchOption.AllDirectories).Length;
        Assert.Equal(scan.NewBytes, result.Snapshot.Stats.BytesAdded);
        // A pack closes at the first chunk past its target size, so real packs are a little larger and at most as many
        // as the estimate's ceil(new bytes / target); at least one data pack plus the band record.
        Assert.InRange(dataAfter - dataBefore, 2, e.ColdObjects);
        Assert.Equal(CostModel.EstimateUpload(_prices, "aws-s3", "DEEP_ARCHIVE", e.ColdObjects, 0).PutUsd, e.ColdPutUsd);
    }
}
