using System.Diagnostics;
using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// kill -9 during a real backup, at several points: the repository stays consistent (check reports at most
/// packs left unindexed by the interrupted run), earlier snapshots restore byte for byte, and the next backup
/// completes and reuses what the killed runs already stored.
/// </summary>
public sealed class CrashSafetyTests : IDisposable
{
    private const int FileSize = 30 << 20;

    private readonly Sandbox _box = new("crash");

    public void Dispose() => _box.Dispose();

    private string BigFile(int i) => Path.Combine(_box.Source, "big", $"f{i:D2}.bin");

    private int DataObjects() =>
        Directory.Exists(Path.Combine(_box.Repo, "data"))
            ? Directory.EnumerateFiles(Path.Combine(_box.Repo, "data"), "*", SearchOption.AllDirectories).Count()
            : 0;

    /// <summary>Starts a backup and kills it with SIGKILL once <paramref name="killWhen"/> holds; returns whether it was killed (false: it finished first).</summary>
    private async Task<bool> BackupAndKillAsync(Func<Stopwatch, bool> killWhen, string what)
    {
        var psi = Cli.StartInfo(["--repo", _box.Repo, "backup", _box.Source, "--json"], _box.Env(), runAs: null);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        var sw = Stopwatch.StartNew();
        bool killed = false;
        while (!p.HasExited)
        {
            if (killWhen(sw))
            {
                p.Kill(entireProcessTree: true); // SIGKILL: no cleanup runs
                killed = true;
                break;
            }
            Assert.True(sw.Elapsed < TimeSpan.FromMinutes(2), $"backup did not reach the kill point ({what}) in 2 minutes");
            await Task.Delay(5);
        }
        await p.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        if (!killed)
        {
            Assert.True(p.ExitCode == 0, $"the backup to be killed ({what}) failed by itself with {p.ExitCode}:\n{stderr.Result}");
        }
        return killed;
    }

    /// <summary>check passes, or finds nothing but packs an interrupted backup left unindexed.</summary>
    private async Task AssertCheckCleanAsync(string when)
    {
        CliResult check = await _box.Strata("check");
        CliAssert.NoStackTrace(check);
        if (check.ExitCode == 0)
        {
            return;
        }
        CliAssert.Exit(4, check);
        var problems = check.StdoutLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(problems);
        Assert.True(problems.All(l => l.Contains("not in the index", StringComparison.Ordinal)), $"check after {when} reports damage, not just leftovers\n{check}");
    }

    private async Task AssertFirstSnapshotRestoresAsync(string firstId, string[] firstFiles, string when)
    {
        string target = Path.Combine(_box.Root, $"restore-{Guid.NewGuid():N}");
        CliResult r = await _box.Strata("restore", firstId, "--target", target);
        Assert.True(r.ExitCode == 0, $"after {when}, the earlier snapshot does not restore\n{r}");
        string big = Sandbox.Restored(target, Path.Combine(_box.Source, "big"));
        Assert.Equal(firstFiles.Order(StringComparer.Ordinal), Directory.EnumerateFiles(big).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (string f in firstFiles)
        {
            string src = Path.Combine(_box.Source, "big", f);
            var diffs = TreeComparer.Compare(src, Sandbox.Restored(target, src), new TreeComparer.Options());
            Assert.True(diffs.Count == 0, $"after {when}: " + string.Join("\n", diffs));
        }
        Directory.Delete(target, recursive: true);
    }

    [Fact]
    public async Task Killing_a_backup_at_any_point_leaves_a_consistent_repository_and_the_next_backup_reuses_its_packs()
    {
        Directory.CreateDirectory(Path.Combine(_box.Source, "big"));
        for (int i = 1; i <= 2; i++)
        {
            File.WriteAllBytes(BigFile(i), Sandbox.RandomBytes(FileSize, seed: 100 + i));
        }
        _box.Write("big/notes.txt", "notes\n");
        await _box.InitAsync("--pack-size", "8MiB");
        CliResult first = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(first);
        string firstId = first.Summary.GetProperty("snapshot_id").GetString()!;
        string[] firstFiles = ["f01.bin", "f02.bin", "notes.txt"];

        // 8 more files, 240 MiB: the backups below are killed while storing them
        for (int i = 3; i <= 10; i++)
        {
            File.WriteAllBytes(BigFile(i), Sandbox.RandomBytes(FileSize, seed: 100 + i));
        }
        const long newBytes = 8L * FileSize;

        // a kill point on data objects counts what this run added (earlier killed runs leave theirs behind)
        (string, Func<Stopwatch, bool>) AfterNewObjects(int count)
        {
            int baseline = -1;
            return ($"{count} new data objects", _ =>
            {
                int n = DataObjects();
                if (baseline < 0)
                {
                    baseline = n;
                }
                return n - baseline >= count;
            });
        }
        var killPoints = new List<(string What, Func<Stopwatch, bool> When)>
        {
            ("0.3 s after the start", sw => sw.Elapsed >= TimeSpan.FromSeconds(0.3)),
            AfterNewObjects(1),
            ("1 s after the start", sw => sw.Elapsed >= TimeSpan.FromSeconds(1)),
            AfterNewObjects(4),
            AfterNewObjects(8),
        };

        int snapshots = 1;
        foreach (var (what, when) in killPoints)
        {
            bool killed = await BackupAndKillAsync(when, what);
            // Only the first object-count kill must land: later runs reuse the packs earlier killed runs left,
            // so they may legitimately finish having added fewer new objects than their kill point counts.
            if (what == "1 new data objects")
            {
                Assert.True(killed, $"the backup finished before the kill point ({what})");
            }
            await AssertCheckCleanAsync($"a kill at {what}");
            CliResult snaps = await _box.Strata("snapshots", "--json");
            CliAssert.Ok(snaps);
            // A kill that lands after the snapshot was written (the process was exiting) leaves one more snapshot;
            // any other kill leaves none: there is no half-written snapshot.
            int now = JsonDocument.Parse(snaps.Stdout).RootElement.GetArrayLength();
            // (an object-count kill can land after the last pack, i.e. after the snapshot: then one more complete snapshot)
            Assert.True(now == snapshots || now == snapshots + 1,
                $"after a kill at {what}: {now} snapshots, {snapshots} before\n{snaps}");
            snapshots = now;
            await AssertFirstSnapshotRestoresAsync(firstId, firstFiles, $"a kill at {what}");
        }

        CliResult final = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(final);
        long added = final.Summary.GetProperty("data_added").GetInt64();
        Assert.True(added < newBytes, $"the backup after the kills added {added} bytes, no less than the {newBytes} new bytes: it reused nothing the killed runs stored\n{final}");
        await AssertCheckCleanAsync("the completed backup");
        CliResult readData = await _box.Strata("check", "--read-data");
        CliAssert.NoStackTrace(readData);
        Assert.True(readData.StdoutLines.Where(l => l.StartsWith("error:", StringComparison.Ordinal)).All(l => l.Contains("not in the index", StringComparison.Ordinal)), readData.ToString());

        await AssertFirstSnapshotRestoresAsync(firstId, firstFiles, "the completed backup");
        string target = _box.NewTarget("restore-final");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }
}
