using System.Text;
using Strata.Archiver;
using Strata.Maintenance;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Tests.Restorer;

namespace Strata.Core.Tests.Archiver;

/// <summary>Policy worm through the real archiver: what a second backup records when files of the source changed.</summary>
public sealed class WormTests : IAsyncLifetime
{
    private TestRepository _t = null!;

    public async Task InitializeAsync() => _t = await TestRepository.CreateAsync(null);

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private string P(string relative) => Path.Combine(_t.Source, relative);

    private void Write(string relative, string content) => _t.Write(relative, Encoding.UTF8.GetBytes(content));

    private async Task<BackupResult> BackupAsync(SourcePolicy policy, bool force = false)
    {
        _t.Clock.Advance(TimeSpan.FromMinutes(1)); // the previous version is the latest by time
        var options = new BackupOptions { Paths = [_t.Source], Workers = 2, Policy = policy, Force = force };
        var archiver = new Strata.Archiver.Archiver(_t.Repo, options, new BackupProgress(), new ParentTrees(_t.Repo, _t.Cache));
        return await archiver.RunAsync(_t.Ct);
    }

    private void BuildPhotos()
    {
        Write("2019/a.jpg", "photo a");
        Write("2019/b.jpg", "photo b");
        Write("2019/c.jpg", "photo c");
        Write("2020/d.jpg", "photo d");
        Write("2020/e.jpg", "photo e");
        Write("2021/f.jpg", "photo f");
        Write("2021/g.jpg", "photo g");
    }

    [Fact]
    public async Task Changes_deletions_and_replacements_are_recorded_and_new_files_are_fine()
    {
        BuildPhotos();
        BackupResult first = await BackupAsync(SourcePolicy.Worm);
        Assert.Equal("worm", first.Snapshot.Policy);
        Assert.Null(first.Snapshot.WormChanges); // nothing to compare with yet

        Write("2019/a.jpg", "photo a, edited"); // content and size
        File.Delete(P("2019/b.jpg"));
        Directory.Delete(P("2020"), recursive: true); // both files reported
        File.Delete(P("2021/f.jpg"));
        Directory.CreateDirectory(P("2021/f.jpg")); // a file became a folder
        File.SetLastWriteTimeUtc(P("2019/c.jpg"), new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc)); // metadata only
        Write("2022/new.jpg", "new photo");

        BackupResult second = await BackupAsync(SourcePolicy.Worm);
        var changes = second.Snapshot.WormChanges!;
        Assert.Equal(
            [
                ($"{_t.Source}/2019/a.jpg", WormChange.Modified),
                ($"{_t.Source}/2019/b.jpg", WormChange.Deleted),
                ($"{_t.Source}/2019/c.jpg", WormChange.Metadata),
                ($"{_t.Source}/2020/d.jpg", WormChange.Deleted),
                ($"{_t.Source}/2020/e.jpg", WormChange.Deleted),
                ($"{_t.Source}/2021/f.jpg", WormChange.Replaced),
            ],
            changes.Select(c => (c.Path, c.Change)));
        WormChange a = changes[0];
        Assert.Equal(7, a.SizeBefore);
        Assert.Equal(15, a.SizeAfter);
        Assert.True(a.ContentChanged);
        Assert.False(changes[2].ContentChanged);
        Assert.False(changes[2].IsViolation);
        Assert.Equal(first.SnapshotId, second.Snapshot.Parent);
        Assert.Equal(1, second.Snapshot.Stats.FilesNew); // 2022/new.jpg: noted, not a violation

        // the earlier version is untouched in the first snapshot
        Node? old = await TreeOps.FindAsync(_t.Repo, first.Snapshot, $"{_t.Source}/2019/a.jpg", _t.Ct);
        Assert.Equal(7, old!.Size);

        // a third backup compares with the second: nothing changed since, so nothing is reported again
        BackupResult third = await BackupAsync(SourcePolicy.Worm);
        Assert.Empty(third.Snapshot.WormChanges!);
    }

    [Fact]
    public async Task Without_force_an_unchanged_file_is_not_read_again_with_force_every_file_is()
    {
        BuildPhotos();
        await BackupAsync(SourcePolicy.Worm);
        BackupResult plain = await BackupAsync(SourcePolicy.Worm);
        Assert.Equal(0, plain.Snapshot.Stats.BytesRead); // metadata matched: contents were not read, so bit rot below the file system would pass unseen
        BackupResult forced = await BackupAsync(SourcePolicy.Worm, force: true);
        Assert.Equal(forced.Snapshot.Stats.BytesTotal, forced.Snapshot.Stats.BytesRead);
        Assert.Empty(forced.Snapshot.WormChanges!);
    }

    [Fact]
    public async Task A_content_change_with_size_and_mtime_restored_is_a_violation()
    {
        BuildPhotos();
        await BackupAsync(SourcePolicy.Worm);
        FileStat st = Posix.LStat(Posix.ToBytes(P("2021/g.jpg")));
        Write("2021/g.jpg", "photo G"); // same size
        Posix.SetTimes(Posix.ToBytes(P("2021/g.jpg")), st.ATimeNs, st.MTimeNs); // ctime still moves: the backup sees a change and reads the file
        BackupResult second = await BackupAsync(SourcePolicy.Worm);
        WormChange c = Assert.Single(second.Snapshot.WormChanges!);
        Assert.Equal(WormChange.Modified, c.Change);
        Assert.Equal(c.SizeBefore, c.SizeAfter);
        Assert.Equal(c.MTimeBefore, c.MTimeAfter);
        Assert.Contains("bit rot", c.Describe(b => b.ToString()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Other_policies_record_no_worm_changes_and_the_policy_is_in_the_header()
    {
        BuildPhotos();
        BackupResult first = await BackupAsync(SourcePolicy.Dedup);
        File.Delete(P("2019/a.jpg"));
        BackupResult second = await BackupAsync(SourcePolicy.Dedup);
        Assert.Null(second.Snapshot.WormChanges);
        Assert.Equal("dedup", second.Snapshot.Policy);
        var headers = await _t.Repo.ListSnapshotHeadersAsync(_t.Ct);
        Assert.All(headers, h => Assert.Equal("dedup", h.Header.Policy));
        Assert.Equal("dedup", await new ParentTrees(_t.Repo, _t.Cache).PreviousPolicyAsync(first.Snapshot.SourceId, _t.Ct));
    }

    [Fact]
    public void The_new_snapshot_fields_round_trip_and_old_bodies_still_decode()
    {
        var s = new Snapshot
        {
            Time = DateTimeOffset.UnixEpoch,
            Host = "h",
            Paths = ["/p"],
            Tree = new string('0', 64),
            SourceId = "s",
            Policy = "worm",
            Filters = new FilterOptions { GitIgnore = true, Excludes = ["*.tmp"], ExcludeLargerThan = 10 },
            WormChanges = [new WormChange("/p/a", WormChange.Modified, 1, 2, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(1), true)],
        };
        byte[] body = SnapshotCodec.EncodeBody(s);
        string json = Encoding.UTF8.GetString(body);
        Assert.Contains("\"mtime_before\"", json, StringComparison.Ordinal);
        Assert.Contains("\"git_ignore\":true", json, StringComparison.Ordinal);
        Assert.DoesNotContain("is_violation", json, StringComparison.Ordinal);
        Snapshot back = SnapshotCodec.DecodeBody(body, "test");
        Assert.Equal("worm", back.Policy);
        Assert.Equal(s.WormChanges, back.WormChanges);
        Assert.Equal(s.Filters.Excludes, back.Filters!.Excludes);
        Assert.Equal(10, back.Filters.ExcludeLargerThan);

        // a body written before these fields existed
        Snapshot old = SnapshotCodec.DecodeBody("{\"time\":\"2026-01-01T00:00:00+00:00\",\"host\":\"h\",\"paths\":[\"/p\"],\"tree\":\"00\",\"source_id\":\"s\"}"u8, "old");
        Assert.Null(old.Policy);
        Assert.Null(old.WormChanges);
        Assert.Null(old.Filters);
    }

    [Fact]
    public async Task Retention_keeps_the_snapshot_holding_the_earlier_versions()
    {
        BuildPhotos();
        BackupResult v1 = await BackupAsync(SourcePolicy.Worm);
        _t.Clock.Advance(TimeSpan.FromDays(1));
        Write("2019/a.jpg", "tampered");
        BackupResult v2 = await BackupAsync(SourcePolicy.Worm);
        _t.Clock.Advance(TimeSpan.FromDays(1));
        Write("2022/x.jpg", "new");
        await BackupAsync(SourcePolicy.Worm);

        ForgetPlan plan = await Forget.PlanAsync(_t.Repo, new RetentionPolicy { Last = 1 }, TimeZoneInfo.Utc, _t.Ct);
        Assert.DoesNotContain(plan.Remove, s => s.Id == v1.SnapshotId);
        Assert.Contains(plan.Remove, s => s.Id == v2.SnapshotId);
        RetentionDecision kept = plan.Groups.SelectMany(g => g.Decisions).Single(d => d.Snapshot.Id == v1.SnapshotId);
        Assert.Contains(kept.Reasons, r => r.StartsWith("worm:", StringComparison.Ordinal));
    }
}
