using Strata.Archiver;
using Strata.Crypto;
using Strata.Repository;
using Strata.Restorer;
using Strata.Stores;

namespace Strata.Tests.Restorer;

/// <summary>
/// Issue 3 item 5: blobs of a file are contiguous and files are packed in walk order, so a restore of one file needs only
/// the packs that hold its blobs, and a folder of size S needs at most ceil(S / pack size) + 1 packs. A real backup
/// (1 MiB cold packs, 16/64/256 KiB chunks) of a tree of incompressible files, planned with <see cref="RestorePlanner"/>.
/// </summary>
public sealed class PackLocalityTests : IAsyncLifetime
{
    private TestRepository _t = null!;
    private SnapshotRef _snap = null!;
    private readonly Dictionary<string, int> _sizes = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        _t = await TestRepository.CreateAsync(new ColdSimulation(DelaySeconds: 48 * 3600));
        var rng = new Random(7);
        int seed = 100;
        foreach (string folder in new[] { "alpha", "alpha/deep", "beta", "gamma", "gamma/more" })
        {
            for (int i = 0; i < 6; i++)
            {
                int size = rng.Next(20_000, 700_000);
                string path = _t.Write($"{folder}/f{i:00}.bin", TestRepository.RandomBytes(size, seed++));
                _sizes[path] = size;
            }
        }
        _snap = await _t.BackupAsync();
        await _t.ReopenAsync();
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private Task<RestorePlan> PlanAsync(params string[] includes) =>
        RestorePlanner.PlanAsync(_t.Repo, _snap.Snapshot, new ExcludeMatcher(includes), new ExcludeMatcher([]), _t.Ct);

    /// <summary>An include selecting exactly this absolute path (anchored; the test tree's names hold no glob characters).</summary>
    private static string Exact(string absolute) => absolute;

    private static int Bound(long bytes, long packSize) => (int)((bytes + packSize - 1) / packSize) + 1;

    [Fact]
    public async Task TheBackupSpansManyPacks_SoTheBoundsBelowMeanSomething()
    {
        RestorePlan all = await PlanAsync();
        Assert.Equal(_sizes.Count, all.Files.Count);
        Assert.Equal(_sizes.Values.Sum(s => (long)s), all.FileBytes);
        Assert.True(all.ColdObjects >= 8, $"expected the {all.FileBytes} bytes to fill at least 8 packs of {_t.PackSize}, got {all.ColdObjects}");
        // Every data pack of the backup (the band record aside) is needed for a full restore, and nothing else.
        var catalogs = await _t.BlobPacksFromCatalogsAsync();
        Assert.Equal(catalogs.Values.ToHashSet(), all.ColdPacks.Select(p => p.Id).ToHashSet());
        Assert.All(all.Packs, p => Assert.Equal(ObjectKind.Data, p.Name.Kind));
    }

    [Fact]
    public async Task RestoringOneFile_NeedsExactlyThePacksHoldingItsBlobs()
    {
        var catalogs = await _t.BlobPacksFromCatalogsAsync();
        foreach (var (path, size) in _sizes)
        {
            RestorePlan plan = await PlanAsync(Exact(path));
            PlannedFile file = Assert.Single(plan.Files);
            Assert.Equal(path, file.Path);
            Assert.Equal(size, file.Node.Size);
            var expected = file.Node.Content.Select(b => catalogs[b]).ToHashSet();
            Assert.Equal(expected, plan.ColdPacks.Select(p => p.Id).ToHashSet());
            Assert.Equal(expected.Count, plan.ColdObjects);
            Assert.Equal(plan.ColdPacks.Sum(p => p.Bytes), plan.ColdBytes);
            Assert.True(plan.ColdObjects <= Bound(size, _t.PackSize), $"{path} ({size} bytes) needs {plan.ColdObjects} packs of {_t.PackSize}");
            // The file's blobs are contiguous: walking its content, a pack once left is never come back to.
            var runs = new List<BlobId>();
            foreach (BlobId b in file.Node.Content)
            {
                if (runs.Count == 0 || runs[^1] != catalogs[b])
                {
                    runs.Add(catalogs[b]);
                }
            }
            Assert.Equal(runs.Count, runs.Distinct().Count());
            Assert.Equal(runs, file.Packs);
        }
    }

    [Theory]
    [InlineData("alpha")]
    [InlineData("alpha/deep")]
    [InlineData("beta")]
    [InlineData("gamma")]
    [InlineData("gamma/more")]
    public async Task RestoringAFolderOfSizeS_NeedsAtMostCeilSOverPackSizePlusOnePacks(string folder)
    {
        string abs = Path.Combine(_t.Source, folder);
        RestorePlan plan = await PlanAsync(Exact(abs));
        long s = _sizes.Where(kv => kv.Key.StartsWith(abs + "/", StringComparison.Ordinal)).Sum(kv => (long)kv.Value);
        Assert.Equal(s, plan.FileBytes);
        Assert.Equal(_sizes.Keys.Count(k => k.StartsWith(abs + "/", StringComparison.Ordinal)), plan.Files.Count);
        Assert.True(plan.ColdObjects <= Bound(s, _t.PackSize), $"{folder} ({s} bytes) needs {plan.ColdObjects} packs of {_t.PackSize}; the bound is {Bound(s, _t.PackSize)}");
        var catalogs = await _t.BlobPacksFromCatalogsAsync();
        Assert.Equal(plan.Files.SelectMany(f => f.Node.Content).Select(b => catalogs[b]).ToHashSet(), plan.ColdPacks.Select(p => p.Id).ToHashSet());
        RestorePlan all = await PlanAsync();
        Assert.True(plan.ColdObjects < all.ColdObjects, "a folder should need fewer packs than the whole backup");
    }

    [Fact]
    public async Task ThawingOnlyThePlannedPacks_IsEnoughToRestoreTheFile()
    {
        string path = _sizes.Keys.Order(StringComparer.Ordinal).ElementAt(_sizes.Count / 2);
        RestorePlan plan = await PlanAsync(Exact(path));
        Assert.All(plan.ColdPacks, p => Assert.Equal(ThawState.Frozen, p.Status.State));
        await _t.ThawNowAsync(plan.ColdPacks.Select(p => p.Id));

        string target = Path.Combine(_t.Root, "restore");
        var result = await new Strata.Restorer.Restorer(_t.Repo, new RestoreOptions { Target = target, Includes = new ExcludeMatcher([Exact(path)]) }).RunAsync(_snap.Snapshot, _t.Ct);
        Assert.Empty(result.Failures);
        Assert.Equal(1, result.Files);
        Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(_t.Restored(target, path)));
        // The other packs are still frozen: the restore read nothing else.
        RestorePlan all = await PlanAsync();
        Assert.Equal(plan.ColdObjects, all.CountCold(ThawState.Thawed));
        Assert.Equal(all.ColdObjects - plan.ColdObjects, all.CountCold(ThawState.Frozen));
    }
}
