using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Tests.Maintenance;

/// <summary>Forget on a real local repository filled by the real archiver, one backup a day on a fake clock.</summary>
public sealed class ForgetTests
{
    private static async Task<(TestRepository Repo, List<SnapshotRef> Backups)> FiveDailyBackupsAsync()
    {
        var t = await TestRepository.CreateAsync(simulation: null);
        var backups = new List<SnapshotRef>();
        for (int day = 0; day < 5; day++)
        {
            t.Write("notes.txt", System.Text.Encoding.UTF8.GetBytes($"day {day}\n"));
            t.Write($"day{day}.bin", TestRepository.RandomBytes(100_000, day));
            backups.Add(await t.BackupAsync());
            t.Clock.Advance(TimeSpan.FromDays(1));
        }
        return (t, backups);
    }

    private static async Task<SortedSet<string>> NamesAsync(IStore store, ObjectKind kind, CancellationToken ct)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (ObjectInfo o in store.ListAsync(kind, ct))
        {
            names.Add(o.Name.Name);
        }
        return names;
    }

    [Fact]
    public async Task Keep_last_two_deletes_the_older_snapshot_objects_and_leaves_the_data()
    {
        var (t, backups) = await FiveDailyBackupsAsync();
        await using var _ = t;
        var ct = t.Ct;
        IStore store = t.Repo.Store;
        var dataBefore = await NamesAsync(store, ObjectKind.Data, ct);
        var treeBefore = await NamesAsync(store, ObjectKind.Tree, ct);
        var indexBefore = await NamesAsync(store, ObjectKind.Index, ct);
        Assert.Equal(5, (await NamesAsync(store, ObjectKind.Snapshots, ct)).Count);

        ForgetPlan plan = await Forget.PlanAsync(t.Repo, new RetentionPolicy { Last = 2 }, TimeZoneInfo.Utc, ct);

        RetentionGroup group = Assert.Single(plan.Groups);
        Assert.Equal([backups[4].Id, backups[3].Id], group.Kept.Select(d => d.Snapshot.Id));
        Assert.Equal([backups[2].Id, backups[1].Id, backups[0].Id], plan.Remove.Select(s => s.Id));
        // Planning (a dry run) deletes nothing.
        Assert.Equal(5, (await NamesAsync(store, ObjectKind.Snapshots, ct)).Count);

        var removed = new List<string>();
        int n = await Forget.ApplyAsync(t.Repo, plan, s => removed.Add(s.Id), ct);

        Assert.Equal(3, n);
        Assert.Equal(plan.Remove.Select(s => s.Id), removed);
        Assert.Equal(new SortedSet<string>([backups[3].Id, backups[4].Id], StringComparer.Ordinal), await NamesAsync(store, ObjectKind.Snapshots, ct));
        Assert.Equal(dataBefore, await NamesAsync(store, ObjectKind.Data, ct));
        Assert.Equal(treeBefore, await NamesAsync(store, ObjectKind.Tree, ct));
        Assert.Equal(indexBefore, await NamesAsync(store, ObjectKind.Index, ct));

        // Another process sees the same two snapshots, and their trees still load.
        Repo reopened = await t.ReopenAsync();
        var left = await reopened.ListSnapshotsAsync(ct);
        Assert.Equal([backups[3].Id, backups[4].Id], left.Select(s => s.Id));
        foreach (SnapshotRef s in left)
        {
            await reopened.LoadTreeAsync(Crypto.BlobId.Parse(s.Snapshot.Tree), ct);
        }

        // Repeating the same plan is harmless: deleting a missing object succeeds.
        Assert.Equal(3, await Forget.ApplyAsync(reopened, plan, null, ct));
    }

    [Fact]
    public async Task Ids_remove_exactly_the_named_snapshots()
    {
        var (t, backups) = await FiveDailyBackupsAsync();
        await using var _ = t;
        var ct = t.Ct;

        ForgetPlan plan = await Forget.PlanByIdAsync(t.Repo, [backups[1].Id[..10], backups[3].Id, backups[3].ShortId], ct);
        Assert.True(plan.ById);
        Assert.Equal([backups[3].Id, backups[1].Id], plan.Remove.Select(s => s.Id));
        await Forget.ApplyAsync(t.Repo, plan, null, ct);

        var left = await NamesAsync(t.Repo.Store, ObjectKind.Snapshots, ct);
        Assert.Equal(new SortedSet<string>([backups[0].Id, backups[2].Id, backups[4].Id], StringComparer.Ordinal), left);

        var e = await Assert.ThrowsAsync<UserInputException>(() => Forget.PlanByIdAsync(t.Repo, [backups[0].ShortId, "ffffffffffff"], ct));
        Assert.Contains("ffffffffffff", e.Message);
        Assert.Equal(3, (await NamesAsync(t.Repo.Store, ObjectKind.Snapshots, ct)).Count);
    }

    [Fact]
    public async Task No_rule_and_writer_keys_are_refused()
    {
        var t = await TestRepository.CreateAsync(simulation: null);
        await using var _ = t;
        var ct = t.Ct;
        await t.BackupAsync();

        var e = await Assert.ThrowsAsync<UserInputException>(() => Forget.PlanAsync(t.Repo, new RetentionPolicy { MinKeep = 3 }, TimeZoneInfo.Utc, ct));
        Assert.Contains("needs a rule", e.Message);

        var writerFile = KeyFile.Create(t.Repo.Keys, KeyRole.Writer, "writer pass", "host", "user", t.Clock.GetUtcNow(), memoryKib: 1024, passes: 1);
        await Repo.WriteObjectAsync(t.Repo.Store, ObjectKind.Keys, writerFile.ToBytes(), ct);
        await using Repo writer = await Repo.OpenAsync(new LocalStore(t.RepoDir, t.Clock), "writer pass", t.Clock, ct);
        Assert.False(writer.Keys.CanRead);
        await Assert.ThrowsAsync<WriterKeyException>(() => Forget.PlanAsync(writer, new RetentionPolicy { Last = 1 }, TimeZoneInfo.Utc, ct));
        await Assert.ThrowsAsync<WriterKeyException>(() => Forget.ApplyAsync(writer, new ForgetPlan([], [], false), null, ct));
    }
}
