using System.Diagnostics;
using Strata.Crypto;
using Strata.Locks;
using Strata.Stores;

namespace Strata.Core.Tests.Locks;

/// <summary>Lock semantics on a real local store: conflicts by mode and host, waiting, refresh, staleness, removal.</summary>
public sealed class RepoLockTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "strata-locks-" + Guid.NewGuid().ToString("N"));
    private readonly LocalStore _store;
    private readonly MasterKeys _keys = MasterKeys.CreateNew();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    public RepoLockTests() => _store = new LocalStore(_root);

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        _timeout.Dispose();
    }

    private CancellationToken Ct => _timeout.Token;

    private Task<RepoLock> Take(LockMode mode, string host = "laptop", TimeSpan? wait = null, string purpose = "backup") =>
        RepoLock.AcquireAsync(_store, _keys, mode, new LockOptions { Host = host, Wait = wait ?? TimeSpan.Zero, Purpose = purpose, PollInterval = TimeSpan.FromMilliseconds(100) }, TimeProvider.System, Ct);

    private async Task<int> CountLocksAsync()
    {
        int n = 0;
        await foreach (var _ in _store.ListAsync(ObjectKind.Locks, Ct))
        {
            n++;
        }
        return n;
    }

    [Fact]
    public async Task Two_backups_of_one_host_conflict_and_the_message_names_the_holder()
    {
        await using RepoLock first = await Take(LockMode.Host, "laptop");
        var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Host, "laptop"));
        Assert.Contains("host laptop", e.Message, StringComparison.Ordinal);
        Assert.Contains($"pid {Environment.ProcessId}", e.Message, StringComparison.Ordinal);
        Assert.Contains("backup", e.Message, StringComparison.Ordinal);
        Assert.Single(e.Holders);
        // The refused taker removed its own lock object again.
        Assert.Equal(1, await CountLocksAsync());
    }

    [Fact]
    public async Task Backups_of_different_hosts_and_shared_locks_coexist()
    {
        await using RepoLock a = await Take(LockMode.Host, "laptop");
        await using RepoLock b = await Take(LockMode.Host, "desktop");
        await using RepoLock c = await Take(LockMode.Shared, "nas", purpose: "restore");
        Assert.Equal(3, await CountLocksAsync());
    }

    [Fact]
    public async Task Exclusive_excludes_everything_and_is_excluded_by_anything()
    {
        await using (RepoLock shared = await Take(LockMode.Shared, "nas", purpose: "restore"))
        {
            var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Exclusive, "admin", purpose: "purge"));
            Assert.Contains("shared lock for restore", e.Message, StringComparison.Ordinal);
        }
        await using RepoLock ex = await Take(LockMode.Exclusive, "admin", purpose: "purge");
        var e2 = await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Host, "desktop"));
        Assert.Contains("exclusive lock for purge", e2.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Shared, "desktop"));
    }

    [Fact]
    public async Task An_exclusive_taker_waits_for_running_backups_to_end()
    {
        RepoLock backup = await Take(LockMode.Host, "laptop");
        var sw = Stopwatch.StartNew();
        Task<RepoLock> purge = Take(LockMode.Exclusive, "admin", wait: TimeSpan.FromSeconds(30), purpose: "purge");
        await Task.Delay(700, Ct);
        Assert.False(purge.IsCompleted, "the exclusive lock was granted while a backup held its lock");
        await backup.DisposeAsync();
        await using RepoLock held = await purge;
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(700));
        Assert.Equal(LockMode.Exclusive, held.Mode);
        Assert.Equal(1, await CountLocksAsync());
    }

    [Fact]
    public async Task Waiting_gives_up_after_the_wait_and_says_how_long_it_waited()
    {
        await using RepoLock first = await Take(LockMode.Host, "laptop");
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Host, "laptop", wait: TimeSpan.FromSeconds(1)));
        Assert.True(sw.Elapsed >= TimeSpan.FromSeconds(1), $"gave up after {sw.Elapsed}");
        Assert.Contains("after waiting", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Old_locks_and_locks_of_dead_processes_on_this_machine_are_stale_and_ignored()
    {
        var now = DateTimeOffset.UtcNow;
        string old = await RepoLock.WriteAsync(_store, _keys, new LockRecord(1, LockMode.Exclusive, "gone", "elsewhere", 1234, "bob", now.AddHours(-1), "purge"), Ct);
        int deadPid = DeadPid();
        string dead = await RepoLock.WriteAsync(_store, _keys, new LockRecord(1, LockMode.Host, "laptop", Environment.MachineName, deadPid, "bob", now, "backup"), Ct);
        string live = await RepoLock.WriteAsync(_store, _keys, new LockRecord(1, LockMode.Host, "desktop", "desktop-machine", 99, "carol", now, "backup"), Ct);

        // Neither stale lock stops a backup of the same host, nor an exclusive one (only the live desktop lock would).
        await using (RepoLock b = await Take(LockMode.Host, "laptop"))
        {
        }
        var found = await RepoLock.ListAsync(_store, _keys, TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        Assert.True(found.Single(f => f.Id == old).Stale);
        Assert.True(found.Single(f => f.Id == dead).Stale);
        Assert.False(found.Single(f => f.Id == live).Stale);

        var removed = await RepoLock.RemoveAsync(_store, _keys, all: false, TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        Assert.Equal(new[] { dead, old }.Order(), removed.Where(r => r.Removed).Select(r => r.Lock.Id).Order());
        Assert.Equal(1, await CountLocksAsync());
        var all = await RepoLock.RemoveAsync(_store, _keys, all: true, TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        Assert.Equal([live], all.Where(r => r.Removed).Select(r => r.Lock.Id));
        Assert.Equal(0, await CountLocksAsync());
    }

    private static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [Fact]
    public async Task A_lock_that_does_not_open_with_the_key_blocks_until_it_is_old()
    {
        string id = new('a', 64);
        using (var ms = new MemoryStream("not a lock"u8.ToArray()))
        {
            await _store.WriteAsync(new ObjectName(ObjectKind.Locks, id), ms, Ct);
        }
        var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(LockMode.Shared));
        Assert.Contains("unreadable lock", e.Message, StringComparison.Ordinal);
        // A different repository's key cannot read this repository's locks either.
        var other = await RepoLock.ListAsync(_store, MasterKeys.CreateNew(), TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        Assert.All(other, f => Assert.Null(f.Record));
        File.SetLastWriteTimeUtc(Path.Combine(_root, "locks", id), DateTime.UtcNow.AddHours(-2));
        await using RepoLock ok = await Take(LockMode.Shared);
    }

    [Fact]
    public async Task A_held_lock_is_rewritten_on_refresh_and_the_old_object_removed()
    {
        var options = new LockOptions { Host = "laptop", RefreshInterval = TimeSpan.FromMilliseconds(200) };
        await using RepoLock held = await RepoLock.AcquireAsync(_store, _keys, LockMode.Host, options, TimeProvider.System, Ct);
        string first = held.Id;
        var before = (await RepoLock.ListAsync(_store, _keys, options.StaleAfter, TimeProvider.System, Ct)).First(l => l.Id == first);
        await Task.Delay(1000, Ct);
        Assert.NotEqual(first, held.Id);
        // Between two refreshes there is exactly the current one (during one, briefly two: look a few times).
        FoundLock? after = null;
        for (int i = 0; i < 20 && after is null; i++)
        {
            var found = await RepoLock.ListAsync(_store, _keys, options.StaleAfter, TimeProvider.System, Ct);
            after = found.Count == 1 && found[0].Id == held.Id ? found[0] : null;
            if (after is null)
            {
                await Task.Delay(20, Ct);
            }
        }
        Assert.NotNull(after);
        Assert.True(after.Record!.Time > before.Record!.Time);
        await held.DisposeAsync();
        Assert.Equal(0, await CountLocksAsync());
    }

    [Fact]
    public async Task Releasing_a_lock_while_a_refresh_is_being_written_leaves_no_lock_behind()
    {
        // The store has taken the new lock object but its answer is slow (a server's reply on its way back).
        var slow = new SwitchableStore(_store);
        var options = new LockOptions { Host = "laptop", RefreshInterval = TimeSpan.FromMilliseconds(100) };
        RepoLock held = await RepoLock.AcquireAsync(slow, _keys, LockMode.Host, options, TimeProvider.System, Ct);
        slow.AnswerDelay = TimeSpan.FromMilliseconds(400);
        var written = slow.WaitForWriteAsync();
        await written.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(2, await CountLocksAsync());
        await held.DisposeAsync();
        Assert.Equal(0, await CountLocksAsync());
    }

    [Fact]
    public async Task A_lock_that_cannot_be_refreshed_is_reported_lost_before_it_goes_stale()
    {
        var failing = new SwitchableStore(_store);
        var messages = new List<string>();
        var options = new LockOptions
        {
            Host = "laptop",
            RefreshInterval = TimeSpan.FromMilliseconds(100),
            StaleAfter = TimeSpan.FromMilliseconds(600),
            Report = m => { lock (messages) { messages.Add(m); } },
        };
        await using RepoLock held = await RepoLock.AcquireAsync(failing, _keys, LockMode.Host, options, TimeProvider.System, Ct);
        failing.FailWrites = true;
        var lost = new TaskCompletionSource();
        using var reg = held.Lost.Register(() => lost.TrySetResult());
        await lost.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        lock (messages)
        {
            Assert.Contains(messages, m => m.Contains("could not refresh", StringComparison.Ordinal));
        }
    }

    /// <summary>A store whose writes can be made to fail, as a server that went away.</summary>
    private sealed class SwitchableStore(IStore inner) : IStore
    {
        public volatile bool FailWrites;
        private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>After a write has reached the inner store, wait this long before answering.</summary>
        public TimeSpan AnswerDelay { get; set; }

        /// <summary>Completes once a write with an answer delay has reached the inner store.</summary>
        public Task WaitForWriteAsync() => _written.Task;

        public string Location => inner.Location;
        public StoreProperties Properties => inner.Properties;
        public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => inner.StatAsync(name, ct);
        public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(name, offset, buffer, ct);
        public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
        {
            if (FailWrites)
            {
                throw new TransientStoreException("the server went away (test)");
            }
            await inner.WriteAsync(name, content, ct);
            TimeSpan delay = AnswerDelay;
            if (delay > TimeSpan.Zero)
            {
                _written.TrySetResult();
                await Task.Delay(delay, ct);
            }
        }
        public Task DeleteAsync(ObjectName name, CancellationToken ct) => inner.DeleteAsync(name, ct);
        public IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct) => inner.ListAsync(kind, ct);
        public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => inner.GetThawStatusAsync(name, ct);
        public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => inner.RequestThawAsync(name, request, ct);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
