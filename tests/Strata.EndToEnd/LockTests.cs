using System.Diagnostics;
using Strata.EndToEnd.Infrastructure;
using Strata.Locks;
using Strata.Repository;
using Strata.Stores;

namespace Strata.EndToEnd;

/// <summary>
/// Repository locks as a user meets them: a backup of a host that is already backing up fails at once (exit 11,
/// naming the holder) or waits with --lock-wait; other hosts go on; stale locks are ignored and removed by unlock.
/// The "other run" is this test process holding a real lock through the same API the CLI uses.
/// </summary>
public sealed class LockTests : IDisposable
{
    private const int Locked = 11;
    private readonly Sandbox _box = new("locks");
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));

    public void Dispose()
    {
        _box.Dispose();
        _timeout.Dispose();
    }

    private CancellationToken Ct => _timeout.Token;

    private async Task<Repo> OpenAsync(IStore store) => await Repo.OpenAsync(store, Sandbox.Password, TimeProvider.System, Ct);

    private async Task SetUpAsync()
    {
        _box.Write("a.txt", "alpha\n");
        _box.Write("dir/b.bin", Sandbox.RandomBytes(300_000, 5));
        await _box.InitAsync();
    }

    private int LockCount() => Directory.Exists(Path.Combine(_box.Repo, "locks")) ? Directory.GetFiles(Path.Combine(_box.Repo, "locks")).Length : 0;

    [Fact]
    public async Task A_second_backup_of_the_same_host_fails_naming_the_holder_or_waits_while_other_hosts_go_on()
    {
        await SetUpAsync();
        await using Repo repo = await OpenAsync(new LocalStore(_box.Repo));
        RepoLock held = await RepoLock.AcquireAsync(repo, LockMode.Host, new LockOptions { Host = "box" }, Ct);

        CliResult refused = await _box.Strata("backup", "--host", "box", _box.Source);
        CliAssert.FailsCleanly(Locked, refused, "locked", "host box", $"pid {Environment.ProcessId}", "backup", "--lock-wait", "strata unlock");
        Assert.True(refused.Elapsed < TimeSpan.FromSeconds(30), $"a refused backup should fail at once\n{refused}");
        Assert.Equal(1, LockCount());

        CliResult otherHost = await _box.Strata("backup", "--host", "other", _box.Source);
        CliAssert.Ok(otherHost);

        // With --lock-wait the backup waits for the holder to finish, then runs.
        var sw = Stopwatch.StartNew();
        Task<CliResult> waiting = _box.Strata("backup", "--host", "box", "--lock-wait", "2m", _box.Source);
        await Task.Delay(3000, Ct);
        Assert.False(waiting.IsCompleted, "the backup did not wait for the lock");
        await held.DisposeAsync();
        CliResult waited = await waiting;
        CliAssert.Ok(waited);
        Assert.Contains("waiting up to 120s", waited.Stderr, StringComparison.Ordinal);
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(3));
        Assert.Equal(0, LockCount());

        CliResult snaps = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(snaps);
        using var doc = System.Text.Json.JsonDocument.Parse(snaps.Stdout);
        Assert.Equal(2, doc.RootElement.GetArrayLength());
    }

    [Fact]
    public async Task Two_real_backups_of_one_host_started_together_both_finish_with_lock_wait_and_the_repository_checks_clean()
    {
        await SetUpAsync();
        for (int i = 0; i < 8; i++)
        {
            _box.Write($"big/{i}.bin", Sandbox.RandomBytes(3_000_000, 100 + i));
        }
        Task<CliResult> a = _box.Strata("backup", "--lock-wait", "3m", _box.Source);
        Task<CliResult> b = _box.Strata("backup", "--lock-wait", "3m", _box.Source);
        CliResult[] both = await Task.WhenAll(a, b);
        CliAssert.Ok(both[0]);
        CliAssert.Ok(both[1]);
        CliAssert.Ok(await _box.Strata("check"));
        Assert.Equal(0, LockCount());
    }

    [Fact]
    public async Task A_stale_lock_is_ignored_and_unlock_removes_it_but_keeps_a_live_one_unless_remove_all()
    {
        await SetUpAsync();
        var now = DateTimeOffset.UtcNow;
        await using (Repo repo = await OpenAsync(new LocalStore(_box.Repo)))
        {
            // A purge that crashed an hour ago: its exclusive lock was never refreshed.
            await RepoLock.WriteAsync(repo.Store, repo.Keys, new LockRecord(1, LockMode.Exclusive, "nas", "nas", 777, "admin", now.AddHours(-1), "purge"), Ct);
        }
        CliResult backup = await _box.Strata("backup", _box.Source);
        CliAssert.Ok(backup);

        await using (Repo repo = await OpenAsync(new LocalStore(_box.Repo)))
        {
            // A backup running right now on another machine.
            await RepoLock.WriteAsync(repo.Store, repo.Keys, new LockRecord(1, LockMode.Host, "laptop", "laptop", 4242, "alice", now, "backup"), Ct);
        }
        CliResult unlock = await _box.Strata("unlock");
        CliAssert.Ok(unlock);
        Assert.Contains("removed stale exclusive lock for purge by host nas", unlock.Stdout, StringComparison.Ordinal);
        Assert.Contains("kept live host lock for backup by host laptop", unlock.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, LockCount());

        CliResult all = await _box.Strata("unlock", "--remove-all");
        CliAssert.Ok(all);
        Assert.Contains("removed host lock for backup by host laptop", all.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, LockCount());
    }

    [Fact]
    public async Task Through_strata_serve_a_held_lock_refuses_a_backup_of_the_same_host_and_unlock_needs_the_owner_key()
    {
        await SetUpAsync();
        await using ServeProcess serve = await ServeProcess.StartAsync(_box.Env(), "--repo", _box.Repo, "--no-auth");
        string url = serve.Url();
        await using Repo repo = await OpenAsync(RestStore.Open(url));
        await using (RepoLock held = await RepoLock.AcquireAsync(repo, LockMode.Host, new LockOptions { Host = "box" }, Ct))
        {
            CliResult refused = await Cli.RunAsync(["--repo", url, "backup", "--host", "box", _box.Source], _box.Env());
            CliAssert.FailsCleanly(Locked, refused, "host box", $"pid {Environment.ProcessId}");
            CliResult other = await Cli.RunAsync(["--repo", url, "backup", "--host", "other", _box.Source], _box.Env());
            CliAssert.Ok(other);
        }
        Assert.Equal(0, LockCount());

        // A writer key may not unlock.
        string pw = Path.Combine(_box.Root, "writer-pw");
        File.WriteAllText(pw, "writer pass");
        CliAssert.Ok(await _box.Strata("key", "add", "--writer", "--new-password-file", pw));
        CliResult writerUnlock = await Cli.RunAsync(["--repo", url, "unlock"], _box.Env("writer pass"));
        CliAssert.FailsCleanly(13, writerUnlock, "owner key");
    }
}
