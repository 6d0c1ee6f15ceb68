using Strata.Archiver;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// --stage-warm: data packs are written to the warm class, and move to the cold class only once the backup is
/// complete and verified. On radosgw (real S3 wire protocol) and on the simulated local cold tier.
/// </summary>
public sealed class StageWarmTests(RadosgwFixture rgw) : IClassFixture<RadosgwFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("strata-stage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string MakeSource()
    {
        string src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        var rng = new Random(7);
        for (int i = 0; i < 3; i++)
        {
            byte[] b = new byte[300_000 + (i * 1000)];
            rng.NextBytes(b);
            File.WriteAllBytes(Path.Combine(src, $"f{i}.bin"), b);
        }
        return src;
    }

    private static async Task<Repo> InitAndBackupAsync(IStore store, string src, StorageParameters storage)
    {
        var config = RepoConfig.CreateNew(DateTimeOffset.UtcNow, storage: storage);
        Repo repo = await Repo.InitAsync(store, "pw", config, MasterKeys.CreateNew(), TimeProvider.System, CancellationToken.None);
        await repo.LoadIndexAsync(CancellationToken.None);
        var archiver = new Archiver.Archiver(repo, new BackupOptions { Paths = [src] }, new BackupProgress(), new ParentTrees(repo, Path.Combine(Path.GetDirectoryName(src)!, "cache")));
        await archiver.RunAsync(CancellationToken.None);
        return repo;
    }

    private static async Task<List<ObjectInfo>> DataAsync(IStore store)
    {
        var list = new List<ObjectInfo>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Data, CancellationToken.None))
        {
            list.Add(o);
        }
        return list;
    }

    [SkippableFact]
    public async Task S3_packs_are_staged_in_STANDARD_then_moved_to_the_cold_class_after_the_backup()
    {
        rgw.RequireServer();
        var options = rgw.Options("stage" + Guid.NewGuid().ToString("N")[..8] + "/") with { ColdStorageClass = "GLACIER", StageWarm = true };
        var store = new S3Store(options, RadosgwFixture.Credentials);
        Repo repo = await InitAndBackupAsync(store, MakeSource(), new StorageParameters("GLACIER", StageWarm: true));

        var before = await DataAsync(store);
        Assert.NotEmpty(before);
        Assert.All(before, o => Assert.Equal("STANDARD", o.StorageClass));

        var result = await StageSettler.SettleAsync(repo, CancellationToken.None);
        Assert.Equal(before.Count, result.Moved);
        Assert.Empty(result.Failed);
        var after = await DataAsync(store);
        Assert.All(after, o => Assert.Equal("GLACIER", o.StorageClass));
        // Same bytes: the names are SHA-256 of the content, and a second settle has nothing to do.
        Assert.Equal(before.Select(o => (o.Name, o.Length)).OrderBy(x => x.Name.Name), after.Select(o => (o.Name, o.Length)).OrderBy(x => x.Name.Name));
        Assert.Equal(0, (await StageSettler.SettleAsync(repo, CancellationToken.None)).Moved);
    }

    [Fact]
    public async Task Simulated_cold_packs_are_readable_while_staged_and_frozen_once_moved()
    {
        var store = new LocalStore(Path.Combine(_dir, "repo")) { StagesWarm = true };
        store.EnableColdSimulation(new ColdSimulation(3600));
        Repo repo = await InitAndBackupAsync(store, MakeSource(), new StorageParameters("DEEP_ARCHIVE", StageWarm: true));
        var data = await DataAsync(store);
        Assert.NotEmpty(data);
        foreach (ObjectInfo o in data)
        {
            Assert.True(store.IsStaged(o));
            Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(o.Name, CancellationToken.None)).State);
        }
        var result = await StageSettler.SettleAsync(repo, CancellationToken.None);
        Assert.Equal(data.Count, result.Moved);
        foreach (ObjectInfo o in data)
        {
            Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(o.Name, CancellationToken.None)).State);
            await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(o.Name, 0, new byte[16], CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_damaged_staged_pack_is_not_moved_and_is_reported()
    {
        var store = new LocalStore(Path.Combine(_dir, "repo2")) { StagesWarm = true };
        store.EnableColdSimulation(new ColdSimulation(3600));
        Repo repo = await InitAndBackupAsync(store, MakeSource(), new StorageParameters("DEEP_ARCHIVE", StageWarm: true));
        ObjectInfo victim = (await DataAsync(store)).OrderByDescending(o => o.Length).First();
        string path = Path.Combine(store.Root, "data", victim.Name.Name[..2], victim.Name.Name);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x40;
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllBytes(path, bytes);

        var result = await StageSettler.SettleAsync(repo, CancellationToken.None);
        Assert.Contains(result.Failed, f => f.Contains(victim.Name.Name, StringComparison.Ordinal));
        Assert.True(store.IsStaged(victim));
    }
}
