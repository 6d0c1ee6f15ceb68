using Microsoft.Extensions.Time.Testing;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Core.Tests.Archiver;

/// <summary>Versions: a backup that changes nothing records "unchanged since vN" and adds no cold object.</summary>
public sealed class VersionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("strata-versions-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<Snapshot> BackupAsync(Repo repo, string src, string cache)
    {
        await repo.LoadIndexAsync(CancellationToken.None);
        var archiver = new Strata.Archiver.Archiver(repo, new BackupOptions { Paths = [src] }, new BackupProgress(), new ParentTrees(repo, cache));
        return (await archiver.RunAsync(CancellationToken.None)).Snapshot;
    }

    [Fact]
    public async Task Unchanged_runs_add_no_version_and_changes_do()
    {
        string src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "a.txt"), "one");
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var store = new LocalStore(Path.Combine(_dir, "repo"));
        Repo repo = await Repo.InitAsync(store, "pw", RepoConfig.CreateNew(clock.GetUtcNow()), MasterKeys.CreateNew(), clock, CancellationToken.None);
        string cache = Path.Combine(_dir, "cache");

        Snapshot v1 = await BackupAsync(repo, src, cache);
        Assert.Equal(1, v1.Version);
        Assert.Null(v1.UnchangedSince);
        int dataObjects = Directory.GetFiles(Path.Combine(store.Root, "data"), "*", SearchOption.AllDirectories).Length;

        clock.Advance(TimeSpan.FromDays(1));
        File.ReadAllText(Path.Combine(src, "a.txt")); // a read (atime) is not a change
        Snapshot again = await BackupAsync(repo, src, cache);
        Assert.Equal(1, again.Version);
        Assert.Equal(1, again.UnchangedSince);
        Assert.Equal(dataObjects, Directory.GetFiles(Path.Combine(store.Root, "data"), "*", SearchOption.AllDirectories).Length);

        clock.Advance(TimeSpan.FromDays(2));
        File.SetUnixFileMode(Path.Combine(src, "a.txt"), UnixFileMode.UserRead);
        Snapshot v2 = await BackupAsync(repo, src, cache);
        Assert.Equal(2, v2.Version);
        Assert.Null(v2.UnchangedSince);
        Assert.Equal(TimeSpan.FromDays(3).TotalSeconds, v2.SecondsSincePrevious!.Value, precision: 0);

        clock.Advance(TimeSpan.FromHours(1));
        File.WriteAllText(Path.Combine(src, "b.txt"), "two");
        Snapshot v3 = await BackupAsync(repo, src, cache);
        Assert.Equal(3, v3.Version);
    }
}
