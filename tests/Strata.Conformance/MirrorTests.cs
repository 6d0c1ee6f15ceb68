using Strata.Archiver;
using Strata.Crypto;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// strata mirror's engine from a local repository into a real S3 server (radosgw): data packs land in the cold class,
/// the mirror opens as the same repository and reads back clean, a second run copies nothing, an interrupted run
/// leaves no config (so no half repository opens) and the next run finishes it, and a damaged object is not spread.
/// </summary>
public sealed class MirrorTests(RadosgwFixture rgw) : IClassFixture<RadosgwFixture>, IDisposable
{
    private const string Password = "mirror test passphrase";
    private readonly string _dir = Directory.CreateTempSubdirectory("strata-mirror-").FullName;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        _timeout.Dispose();
    }

    private async Task<LocalStore> MakeRepositoryAsync()
    {
        string src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        var rng = new Random(3);
        for (int i = 0; i < 4; i++)
        {
            byte[] b = new byte[400_000 + (i * 5000)];
            rng.NextBytes(b);
            File.WriteAllBytes(Path.Combine(src, $"f{i}.bin"), b);
        }
        var store = new LocalStore(Path.Combine(_dir, "repo"));
        var config = RepoConfig.CreateNew(DateTimeOffset.UtcNow, 1 << 20);
        await using (Repo repo = await Repo.InitAsync(store, Password, config, MasterKeys.CreateNew(), TimeProvider.System, Ct))
        {
            await repo.LoadIndexAsync(Ct);
            var archiver = new Archiver.Archiver(repo, new BackupOptions { Paths = [src], Workers = 2 }, new BackupProgress(), new ParentTrees(repo, Path.Combine(_dir, "cache")));
            await archiver.RunAsync(Ct);
        }
        return new LocalStore(Path.Combine(_dir, "repo"));
    }

    private S3Store Target(string prefix) =>
        new(rgw.Options(prefix) with { ColdStorageClass = "DEEP_ARCHIVE", ColdReadsDirectly = true }, RadosgwFixture.Credentials);

    private static async Task<int> CountAsync(IStore store)
    {
        int n = await store.StatAsync(ObjectName.Config, CancellationToken.None) is null ? 0 : 1;
        foreach (ObjectKind k in ObjectKinds.All.Where(k => k != ObjectKind.Config))
        {
            await foreach (var _ in store.ListAsync(k, CancellationToken.None))
            {
                n++;
            }
        }
        return n;
    }

    [SkippableFact]
    public async Task A_mirror_on_S3_has_cold_packs_in_the_cold_class_opens_as_the_repository_and_a_second_run_copies_nothing()
    {
        rgw.RequireServer();
        await using LocalStore source = await MakeRepositoryAsync();
        string prefix = "m" + Guid.NewGuid().ToString("N")[..8] + "/";
        await using S3Store target = Target(prefix);

        MirrorResult first = await new Mirror(source, target).RunAsync(Ct);
        Assert.Empty(first.Problems);
        int total = await CountAsync(source);
        Assert.Equal(total, first.Copied);
        Assert.Equal(total, await CountAsync(target));

        await foreach (ObjectInfo o in target.ListAsync(ObjectKind.Data, Ct))
        {
            Assert.Equal("DEEP_ARCHIVE", o.StorageClass);
        }
        await foreach (ObjectInfo o in target.ListAsync(ObjectKind.Index, Ct))
        {
            Assert.Equal("STANDARD", o.StorageClass);
        }

        // The mirror is the same repository: same passphrase, and every pack reads back and verifies.
        await using (Repo mirrored = await Repo.OpenAsync(Target(prefix), Password, TimeProvider.System, Ct))
        {
            await mirrored.LoadIndexAsync(Ct);
            CheckResult check = await new Checker(mirrored).RunAsync(readData: true, null, Ct);
            Assert.True(check.Ok, string.Join("\n", check.Findings));
            Assert.Equal(1, check.Snapshots);
        }

        MirrorResult second = await new Mirror(source, target).RunAsync(Ct);
        Assert.Equal(0, second.Copied);
        Assert.Equal(total, second.AlreadyThere);
    }

    [SkippableFact]
    public async Task An_interrupted_mirror_leaves_no_config_behind_and_the_next_run_copies_only_the_rest()
    {
        rgw.RequireServer();
        await using LocalStore source = await MakeRepositoryAsync();
        string prefix = "i" + Guid.NewGuid().ToString("N")[..8] + "/";
        await using S3Store s3 = Target(prefix);
        var faulty = new FaultInjectingStore(s3).FailWrite(4, new PermanentStoreException("the connection to the mirror broke (injected)"));
        await Assert.ThrowsAsync<PermanentStoreException>(() => new Mirror(source, faulty) { Parallelism = 1 }.RunAsync(Ct));
        int landed = await CountAsync(s3);
        Assert.Equal(3, landed);
        Assert.Null(await s3.StatAsync(ObjectName.Config, Ct));

        MirrorResult resumed = await new Mirror(source, s3).RunAsync(Ct);
        Assert.Empty(resumed.Problems);
        Assert.Equal(landed, resumed.AlreadyThere);
        Assert.Equal(await CountAsync(source), landed + resumed.Copied);
        await using Repo mirrored = await Repo.OpenAsync(s3, Password, TimeProvider.System, Ct);
        await mirrored.LoadIndexAsync(Ct);
        Assert.True((await new Checker(mirrored).RunAsync(readData: true, null, Ct)).Ok);
    }

    [SkippableFact]
    public async Task A_damaged_object_in_the_source_is_reported_and_not_copied()
    {
        rgw.RequireServer();
        await using LocalStore source = await MakeRepositoryAsync();
        string pack = Directory.GetFiles(Path.Combine(_dir, "repo", "data"), "*", SearchOption.AllDirectories).First(f => !Path.GetFileName(f).StartsWith('.'));
        byte[] bytes = File.ReadAllBytes(pack);
        bytes[bytes.Length / 2] ^= 0x40;
        File.SetAttributes(pack, FileAttributes.Normal);
        File.WriteAllBytes(pack, bytes);
        string name = Path.GetFileName(pack);

        await using S3Store target = Target("d" + Guid.NewGuid().ToString("N")[..8] + "/");
        MirrorResult r = await new Mirror(source, target).RunAsync(Ct);
        string problem = Assert.Single(r.Problems);
        Assert.Contains($"data/{name}", problem, StringComparison.Ordinal);
        Assert.Contains("does not match its name", problem, StringComparison.Ordinal);
        Assert.Null(await target.StatAsync(new ObjectName(ObjectKind.Data, name), Ct));
    }
}
