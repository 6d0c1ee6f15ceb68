using Strata.Archiver;
using Strata.Platform;
using Strata.Repository;
using Strata.Restorer;

namespace Strata.Tests.Restorer;

/// <summary>
/// The two ways a restore creates files: unnamed (O_TMPFILE, linked under its name when complete; the default where the
/// file system offers it) and by name. Both must give the same tree, replace whatever is in the way without following a
/// symlink, and leave nothing of their own behind; unnamed files are never visible half written.
/// </summary>
public sealed class RestoreFileCreationTests : IAsyncLifetime
{
    private TestRepository _t = null!;
    private SnapshotRef _snap = null!;
    private readonly List<string> _files = [];
    private string _linkA = "", _linkB = "";

    public async Task InitializeAsync()
    {
        _t = await TestRepository.CreateAsync(simulation: null);
        int seed = 1;
        foreach (string folder in new[] { "a", "a/b", "c" })
        {
            for (int i = 0; i < 5; i++)
            {
                string path = _t.Write($"{folder}/f{i}.bin", TestRepository.RandomBytes(30_000 + (seed * 11_000), seed));
                Posix.Chmod(Posix.ToBytes(path), (uint)(i % 2 == 0 ? 0x1A4 /* 0644 */ : 0x1E8 /* 0750 */));
                long ns = (1_500_000_000L + (seed * 86_400L)) * 1_000_000_000L + seed;
                Posix.SetTimes(Posix.ToBytes(path), ns, ns);
                _files.Add(path);
                seed++;
            }
        }
        _files.Add(_t.Write("c/empty", []));
        _linkA = _files[0];
        _linkB = Path.Combine(_t.Source, "c/second-name.bin");
        Posix.HardLink(Posix.ToBytes(_linkA), Posix.ToBytes(_linkB));
        _snap = await _t.BackupAsync();
        await _t.ReopenAsync();
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private string NewTarget() => Path.Combine(_t.Root, "target-" + Guid.NewGuid().ToString("N")[..8]);

    private Task<RestoreResult> RestoreAsync(string target, bool unnamed) =>
        new Strata.Restorer.Restorer(_t.Repo, new RestoreOptions { Target = target, UnnamedFiles = unnamed }).RunAsync(_snap.Snapshot, _t.Ct);

    private void AssertRestored(string target, string file)
    {
        string got = _t.Restored(target, file);
        Assert.True(Posix.TryLStat(Posix.ToBytes(got), out FileStat have, out _), $"{got} is missing");
        Assert.True(Posix.TryLStat(Posix.ToBytes(file), out FileStat want, out _));
        Assert.Equal(FileKind.Regular, have.Kind);
        Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(got));
        Assert.Equal(want.Mode & 0xFFF, have.Mode & 0xFFF);
        Assert.Equal(want.MTimeNs, have.MTimeNs);
    }

    /// <summary>
    /// What descriptors of this process point into <paramref name="target"/>: an unnamed file shows as
    /// "target/... (deleted)", a folder opened to make files in it as its path. GetFileSystemEntries, since GetFiles
    /// skips the descriptors of folders (their links resolve to folders).
    /// </summary>
    private static List<string> DescriptorsInto(string target)
    {
        var open = new List<string>();
        foreach (string fd in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } to && to.StartsWith(target + "/", StringComparison.Ordinal))
                {
                    open.Add(to);
                }
            }
            catch (IOException)
            {
                // closed while listed
            }
        }
        return open;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Both_ways_restore_every_file_with_its_bytes_mode_time_and_hard_link_and_nothing_else(bool unnamed)
    {
        string target = NewTarget();
        RestoreResult result = await RestoreAsync(target, unnamed);

        Assert.Empty(result.Failures);
        Assert.Equal(_files.Count, result.Files); // the second hard-link name is linked, not written
        Assert.All(_files, f => AssertRestored(target, f));
        Assert.True(Posix.TryLStat(Posix.ToBytes(_t.Restored(target, _linkA)), out FileStat a, out _));
        Assert.True(Posix.TryLStat(Posix.ToBytes(_t.Restored(target, _linkB)), out FileStat b, out _));
        Assert.Equal(a.Inode, b.Inode);
        // nothing but the source's entries (no probe file, no temporary name) anywhere in the target
        string[] expected = [.. Directory.GetFileSystemEntries(_t.Source, "*", SearchOption.AllDirectories).Select(p => _t.Restored(target, p)).Order(StringComparer.Ordinal)];
        string[] restoredTree = [.. Directory.GetFileSystemEntries(_t.Restored(target, _t.Source), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];
        Assert.Equal(expected, restoredTree);
        Assert.Single(Directory.GetFileSystemEntries(target));
        Assert.Empty(DescriptorsInto(target));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Entries_in_the_way_are_replaced_and_a_symlink_in_the_way_is_not_followed(bool unnamed)
    {
        string target = NewTarget();
        string victim = Path.Combine(_t.Root, "victim.txt");
        File.WriteAllText(victim, "must stay as it is");
        string stale = _t.Restored(target, _files[1]);
        string viaLink = _t.Restored(target, _files[2]);
        string fifo = _t.Restored(target, _files[3]);
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        File.WriteAllText(stale, "an older file at this name");
        Posix.Symlink(Posix.ToBytes(victim), Posix.ToBytes(viaLink));
        Posix.MkNod(Posix.ToBytes(fifo), FileKind.Fifo, 0x1A4, 0);

        RestoreResult result = await RestoreAsync(target, unnamed);

        Assert.Empty(result.Failures);
        Assert.All(_files, f => AssertRestored(target, f));
        Assert.Equal("must stay as it is", File.ReadAllText(victim));
    }

    [Fact]
    public async Task A_file_whose_pack_is_gone_is_listed_and_no_half_written_file_appears_under_its_name()
    {
        string broken = _files[7];
        RestorePlan plan = await RestorePlanner.PlanAsync(_t.Repo, _snap.Snapshot, new ExcludeMatcher([broken]), new ExcludeMatcher([]), _t.Ct);
        Assert.NotEmpty(plan.Packs);
        foreach (var pack in plan.Packs)
        {
            await _t.Repo.Store.DeleteAsync(pack.Name, _t.Ct);
        }
        string target = NewTarget();

        RestoreResult result = await RestoreAsync(target, unnamed: true);

        var failed = result.Failures.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
        Assert.Contains(broken, failed);
        Assert.All(_files.Where(f => failed.Contains(f)), f => Assert.False(Posix.TryLStat(Posix.ToBytes(_t.Restored(target, f)), out _, out _), $"{f} was left half written"));
        Assert.All(_files.Where(f => !failed.Contains(f)), f => AssertRestored(target, f));
        Assert.True(failed.Count < _files.Count, "nothing was restored");
    }

    [Fact]
    public async Task A_cancelled_restore_closes_the_files_made_ahead_and_shows_none_half_written()
    {
        // More files than the walker makes ahead of the workers (64) and than wait in their queue (256).
        await using TestRepository t = await TestRepository.CreateAsync(simulation: null);
        for (int i = 0; i < 2_000; i++)
        {
            t.Write($"many/f{i:D4}", TestRepository.RandomBytes(8_192, i));
        }
        SnapshotRef snap = await t.BackupAsync();
        await t.ReopenAsync();
        string target = Path.Combine(t.Root, "target");
        var progress = new RestoreProgress();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(t.Ct);
        // Watched by a thread of its own, started first: a poll on the thread pool waits behind the restore's own work
        // and woke only after hundreds of files were done, or all 2,000.
        var watcher = new Thread(() =>
        {
            SpinWait.SpinUntil(() => progress.FilesDone >= 10, TimeSpan.FromMinutes(1));
            cts.Cancel();
        });
        watcher.Start();
        Task<RestoreResult> restore = new Strata.Restorer.Restorer(t.Repo, new RestoreOptions { Target = target, UnnamedFiles = true }, progress)
            .RunAsync(snap.Snapshot, cts.Token);
        watcher.Join();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restore);

        Assert.Empty(DescriptorsInto(target));
        // Whatever has its name is whole: files are linked under their name only once written.
        string[] restored = Directory.GetFiles(t.Restored(target, Path.Combine(t.Source, "many")));
        Assert.True(restored.Length < 2_000, "the restore finished before it was cancelled");
        Assert.All(restored, f => Assert.Equal(File.ReadAllBytes(Path.Combine(t.Source, "many", Path.GetFileName(f))), File.ReadAllBytes(f)));
    }
}
