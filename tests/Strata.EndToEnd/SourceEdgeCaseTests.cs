using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Strata.EndToEnd.Infrastructure;
using Strata.Platform;

namespace Strata.EndToEnd;

/// <summary>Awkward sources: unreadable files, empty and sparse files, repeated paths, files that change while read.</summary>
public sealed class SourceEdgeCaseTests : IDisposable
{
    private readonly Sandbox _box = new("source");

    public void Dispose() => _box.Dispose();

    private async Task<List<JsonElement>> SnapshotsAsync()
    {
        CliResult r = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    [Fact]
    public async Task Unreadable_files_and_folders_make_a_partial_snapshot_that_lists_them_exit_3()
    {
        // The tests run as root, which reads everything; the backup runs as 'nobody' instead, for whom a
        // root-owned file of mode 000 and a folder of mode 000 are unreadable.
        string ok = _box.Write("ok.txt", "readable\n");
        _box.Write("also-ok/inside.txt", "readable too\n");
        string locked = _box.Write("locked.txt", "secret\n");
        Posix.Chmod(Posix.ToBytes(locked), 0);
        string closed = Path.Combine(_box.Source, "closed");
        _box.Write("closed/hidden.txt", "in a closed folder\n");
        Posix.Chmod(Posix.ToBytes(closed), 0);
        Directory.CreateDirectory(_box.Repo);
        foreach (string d in new[] { _box.Repo, _box.Cache })
        {
            Posix.LChown(Posix.ToBytes(d), 65534, 65534);
        }

        CliAssert.Ok(await Cli.RunAsync(["--repo", _box.Repo, "init"], _box.Env(), runAs: "nobody"));
        CliResult backup = await Cli.RunAsync(["--repo", _box.Repo, "backup", _box.Source, "--json"], _box.Env(), runAs: "nobody");
        CliAssert.Exit(3, backup);
        CliAssert.NoStackTrace(backup);
        var errors = backup.JsonMessages("error").Select(e => e.GetProperty("item").GetString()).ToList();
        Assert.Contains(locked, errors);
        Assert.Contains(closed, errors);
        Assert.True(backup.Summary.GetProperty("partial").GetBoolean(), backup.ToString());
        Assert.Equal(2, backup.Summary.GetProperty("skipped").GetInt32());
        // The totals count what is in the snapshot: the two readable files, not the one that could not be opened.
        Assert.Equal(2, backup.Summary.GetProperty("files_new").GetInt64());
        Assert.Equal(new FileInfo(ok).Length + "readable too\n".Length, backup.Summary.GetProperty("bytes_total").GetInt64());

        CliResult text = await Cli.RunAsync(["--repo", _box.Repo, "backup", _box.Source], _box.Env(), runAs: "nobody");
        CliAssert.Exit(3, text);
        CliAssert.NoStackTrace(text);
        Assert.Contains(locked, text.Stderr, StringComparison.Ordinal);

        // the owner (root) sees the snapshots as partial, with what was skipped
        var snaps = await SnapshotsAsync();
        Assert.Equal(2, snaps.Count);
        foreach (var s in snaps)
        {
            Assert.True(s.GetProperty("partial").GetBoolean());
            Assert.Equal([closed, locked], Strings(s.GetProperty("skipped")).Order(StringComparer.Ordinal));
        }
        CliResult ls = await _box.Strata("ls", "latest", _box.Source);
        CliAssert.Ok(ls);
        Assert.Contains(ok, ls.StdoutLines);
        Assert.Contains(Path.Combine(_box.Source, "also-ok/inside.txt"), ls.StdoutLines);
        Assert.DoesNotContain(locked, ls.StdoutLines);
        Assert.DoesNotContain(Path.Combine(_box.Source, "closed/hidden.txt"), ls.StdoutLines);

        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        var skip = new HashSet<string>(StringComparer.Ordinal) { "locked.txt", "closed" };
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source), new TreeComparer.Options { Skip = skip });
        Assert.False(File.Exists(Sandbox.Restored(target, locked)));
    }

    [Fact]
    public async Task Empty_files_back_up_and_restore_as_empty_files()
    {
        string empty = _box.Write("empty", []);
        _box.Write("dir/also-empty", []);
        Directory.CreateDirectory(Path.Combine(_box.Source, "empty-dir"));
        await _box.InitAsync();
        CliResult b = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(b);
        Assert.Equal(2, b.Summary.GetProperty("files_new").GetInt64());

        CliResult dump = await _box.Strata("dump", "latest", empty);
        CliAssert.Ok(dump);
        Assert.Empty(dump.StdoutBytes);

        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));

        // an empty file given on its own as the backup path
        CliResult single = await _box.Strata("backup", empty, "--json");
        CliAssert.Ok(single);
        string t2 = _box.NewTarget("restore-single");
        CliAssert.Ok(await _box.Strata("restore", single.Summary.GetProperty("snapshot_id").GetString()!, "--target", t2));
        Assert.Empty(File.ReadAllBytes(Sandbox.Restored(t2, empty)));
    }

    private const long FiveGiB = 5L << 30;

    [Fact]
    public async Task A_sparse_5_GiB_file_is_not_read_stored_or_restored_as_zeros()
    {
        string hollow = Path.Combine(_box.Source, "hollow-5g");
        Sandbox.Run("truncate", "-s", "5G", hollow);
        // a sparse file with some data: a random block in the middle and a few bytes at the very end
        string patchy = Path.Combine(_box.Source, "patchy-1g");
        byte[] middle = Sandbox.RandomBytes(256 * 1024, seed: 70);
        byte[] tail = Sandbox.RandomBytes(100, seed: 71);
        using (var fs = new FileStream(patchy, FileMode.CreateNew))
        {
            fs.SetLength(1L << 30);
            fs.Position = 300L << 20;
            fs.Write(middle);
            fs.Position = (1L << 30) - tail.Length;
            fs.Write(tail);
        }
        _box.Write("normal.txt", "not sparse\n");
        await _box.InitAsync();

        CliResult backup = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(backup);
        Assert.True(backup.Summary.GetProperty("bytes_read").GetInt64() < 4L << 20, $"the holes were read as data\n{backup}");
        long repoBytes = Directory.EnumerateFiles(_box.Repo, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.True(repoBytes < 10L << 20, $"the repository holds {repoBytes} bytes after backing up sparse files");

        string target = _box.NewTarget("restore");
        CliResult restore = await _box.Strata("restore", "latest", "--target", target);
        CliAssert.Ok(restore);

        FileStat h = Posix.LStat(Posix.ToBytes(Sandbox.Restored(target, hollow)));
        Assert.Equal(FiveGiB, h.Size);
        Assert.True(h.Blocks * 512 < 1L << 20, $"the restored 5 GiB hole occupies {h.Blocks * 512} bytes on disk");
        Assert.Equal(Posix.LStat(Posix.ToBytes(hollow)).MTimeNs, h.MTimeNs);

        byte[] restoredPatchy = Posix.ToBytes(Sandbox.Restored(target, patchy));
        FileStat p = Posix.LStat(restoredPatchy);
        Assert.Equal(1L << 30, p.Size);
        Assert.True(p.Blocks * 512 < 8L << 20, $"the restored sparse file occupies {p.Blocks * 512} bytes on disk");
        Assert.True(TreeComparer.SameContent(Posix.ToBytes(patchy), restoredPatchy, out long at), $"the restored sparse file differs from byte {at}");

        Assert.Equal("not sparse\n", File.ReadAllText(Sandbox.Restored(target, Path.Combine(_box.Source, "normal.txt"))));
    }

    [Fact]
    public async Task Backup_excludes_by_name_by_absolute_path_and_from_a_file()
    {
        _box.Write("keep.txt", "keep\n");
        _box.Write("cache/big.tmp", "excluded by absolute path\n");
        _box.Write("sub/cache/kept.txt", "same name, other place: kept\n");
        _box.Write("sub/x.log", "excluded by name\n");
        _box.Write("sub/y.bak", "excluded by the exclude file\n");
        string excludeFile = Path.Combine(_box.Root, "excludes");
        File.WriteAllLines(excludeFile, ["# a comment", "*.bak", ""]);
        await _box.InitAsync();
        string anchored = Path.Combine(_box.Source, "cache");
        CliResult b = await _box.Strata("backup", _box.Source, "--exclude", anchored, "--exclude", "*.log", "--exclude-file", excludeFile, "--json");
        CliAssert.Ok(b);

        CliResult ls = await _box.Strata("ls", "latest", _box.Source);
        CliAssert.Ok(ls);
        var files = ls.StdoutLines.Select(l => Path.GetRelativePath(_box.Source, l)).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("keep.txt", files);
        Assert.Contains("sub/cache/kept.txt", files);
        Assert.True(!files.Contains("cache") && !files.Contains("cache/big.tmp"), $"--exclude {anchored} (an absolute path) did not exclude it\n{ls}");
        Assert.DoesNotContain("sub/x.log", files);
        Assert.DoesNotContain("sub/y.bak", files);
    }

    [Fact]
    public async Task A_path_given_twice_is_backed_up_once()
    {
        _box.Write("a.txt", "a\n");
        _box.Write("sub/b.txt", "b\n");
        _box.Write("sub/c.bin", Sandbox.RandomBytes(100_000, seed: 80));
        await _box.InitAsync();
        string sub = Path.Combine(_box.Source, "sub");
        CliResult b = await _box.Strata("backup", _box.Source, _box.Source, sub, _box.Source + "/", "--json");
        CliAssert.Ok(b);
        Assert.Equal(3, b.Summary.GetProperty("files_new").GetInt64());
        Assert.Equal(0, b.Summary.GetProperty("files_changed").GetInt64());

        var snap = Assert.Single(await SnapshotsAsync());
        Assert.Equal([_box.Source], Strings(snap.GetProperty("paths")));

        CliResult ls = await _box.Strata("ls", "latest");
        CliAssert.Ok(ls);
        Assert.Equal(ls.StdoutLines.Length, ls.StdoutLines.Distinct(StringComparer.Ordinal).Count());
        Assert.Single(ls.StdoutLines, l => l == Path.Combine(sub, "c.bin"));

        // the same source given once afterwards is the same source: nothing to read, unchanged since v1
        CliResult again = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(again);
        Assert.Equal(3, again.Summary.GetProperty("files_unmodified").GetInt64());
        Assert.Equal(0, again.Summary.GetProperty("bytes_read").GetInt64());
        Assert.Equal(1, again.Summary.GetProperty("version").GetInt32());

        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }

    [Fact]
    public async Task A_file_appended_to_during_the_backup_is_recorded_as_changed_not_torn()
    {
        string growing = _box.Write("growing.log", Sandbox.RandomBytes(96 << 20, seed: 90));
        string stable = _box.Write("stable.bin", Sandbox.RandomBytes(2_000_000, seed: 91));
        _box.Write("stable.txt", "stable\n");
        await _box.InitAsync();

        CliResult backup;
        using (var appender = new Appender(growing))
        {
            appender.WaitForFirstAppend();
            backup = await _box.Strata("backup", _box.Source, "--json");
        }
        CliAssert.Ok(backup);
        Assert.True(backup.Summary.GetProperty("changed_while_reading").GetInt32() >= 1, backup.ToString());

        var snap = Assert.Single(await SnapshotsAsync());
        var changed = Strings(snap.GetProperty("changed_while_reading"));
        Assert.Contains(growing, changed);
        Assert.DoesNotContain(stable, changed);

        // what was stored is a consistent prefix of the file (it was only appended to), never a torn mix
        byte[] final = File.ReadAllBytes(growing);
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        byte[] stored = File.ReadAllBytes(Sandbox.Restored(target, growing));
        Assert.True(stored.Length >= 96 << 20 && stored.Length <= final.Length, $"stored {stored.Length} bytes, the file had {96 << 20} to {final.Length}");
        Assert.True(final.AsSpan(0, stored.Length).SequenceEqual(stored), "the stored content is not a prefix of the file");
        Assert.Equal(File.ReadAllBytes(stable), File.ReadAllBytes(Sandbox.Restored(target, stable)));

        // the next backup does not trust the changed file's old content: it reads it again and stores it whole
        CliResult next = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(next);
        Assert.True(next.Summary.GetProperty("files_changed").GetInt64() >= 1, next.ToString());
        Assert.Equal(0, next.Summary.GetProperty("changed_while_reading").GetInt32());
        string t2 = _box.NewTarget("restore2");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", t2));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(t2, _box.Source));
    }

    /// <summary>Appends 4 KiB every millisecond to a file on its own thread until disposed.</summary>
    private sealed class Appender : IDisposable
    {
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _started = new();
        private volatile bool _stop;
        private Exception? _error;

        public Appender(string path)
        {
            _thread = new Thread(() =>
            {
                try
                {
                    using SafeFileHandle h = File.OpenHandle(path, FileMode.Append, FileAccess.Write);
                    byte[] block = Sandbox.RandomBytes(4096, seed: 99);
                    long at = RandomAccess.GetLength(h);
                    while (!_stop)
                    {
                        RandomAccess.Write(h, block, at);
                        at += block.Length;
                        _started.Set();
                        Thread.Sleep(1);
                    }
                }
                catch (Exception e)
                {
                    _error = e;
                    _started.Set();
                }
            }) { IsBackground = true, Name = "appender" };
            _thread.Start();
        }

        public void WaitForFirstAppend() => Assert.True(_started.Wait(TimeSpan.FromSeconds(10)), "the appender did not start");

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
            _started.Dispose();
            Assert.Null(_error);
        }
    }
}
