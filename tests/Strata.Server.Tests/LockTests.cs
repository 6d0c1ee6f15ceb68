using Strata.Crypto;
using Strata.Locks;
using Strata.Stores;

namespace Strata.Server.Tests;

/// <summary>Repository locks through a real server: writers create, refresh and remove their own; only an admin removes others'.</summary>
public sealed class LockTests : IAsyncLifetime
{
    private readonly MasterKeys _keys = MasterKeys.CreateNew();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private TestServer _server = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    private Task<RepoLock> Take(IStore store, LockMode mode, string host, TimeSpan? refresh = null) =>
        RepoLock.AcquireAsync(store, _keys, mode, new LockOptions { Host = host, RefreshInterval = refresh ?? TimeSpan.FromMinutes(5) }, TimeProvider.System, Ct);

    private string[] LockFiles() => Directory.Exists(Path.Combine(_server.RepoRoot(), "locks")) ? Directory.GetFiles(Path.Combine(_server.RepoRoot(), "locks")) : [];

    [Fact]
    public async Task A_writer_login_takes_refreshes_and_releases_its_lock_and_same_host_conflicts_across_logins()
    {
        await using RestStore writer = _server.Store("writer");
        await using RestStore writer2 = _server.Store("writer2");
        RepoLock held = await Take(writer, LockMode.Host, "laptop", refresh: TimeSpan.FromMilliseconds(300));
        string first = held.Id;
        var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(writer2, LockMode.Host, "laptop"));
        Assert.Contains("host laptop", e.Message, StringComparison.Ordinal);
        await using (RepoLock other = await Take(writer2, LockMode.Host, "desktop"))
        {
            // Two locks; a third for a moment while the first is being refreshed (new object written, old one not yet removed).
            Assert.InRange(LockFiles().Length, 2, 3);
            string metrics = await _server.Client("admin").GetStringAsync("/metrics", Ct);
            Assert.Matches("strata_server_active_locks\\{repo=\"/\"\\} [23]\n", metrics);
        }
        // Refreshing through the server deletes the writer's own old lock object: still exactly one.
        await Task.Delay(1200, Ct);
        Assert.NotEqual(first, held.Id);
        // Between two refreshes there is exactly the current one (during one, briefly two: look a few times).
        bool single = false;
        for (int i = 0; i < 20 && !single; i++)
        {
            string[] files = LockFiles();
            single = files.Length == 1 && files[0].EndsWith(held.Id, StringComparison.Ordinal);
            if (!single)
            {
                await Task.Delay(20, Ct);
            }
        }
        Assert.True(single, $"expected only the current lock {held.Id}, found {string.Join(", ", LockFiles().Select(Path.GetFileName))}");
        await held.DisposeAsync();
        Assert.Empty(LockFiles());
    }

    [Fact]
    public async Task Another_writer_cannot_remove_a_lock_but_an_admin_can()
    {
        await using RestStore writer = _server.Store("writer");
        await using RestStore writer2 = _server.Store("writer2");
        await using RestStore admin = _server.Store("admin");
        // A stale lock (an hour old) left by the first writer's crashed run.
        string id = await RepoLock.WriteAsync(writer, _keys, new LockRecord(1, LockMode.Host, "laptop", "laptop", 4242, "alice", DateTimeOffset.UtcNow.AddHours(-1), "backup"), Ct);

        var refused = await RepoLock.RemoveAsync(writer2, _keys, all: false, TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        var r = Assert.Single(refused);
        Assert.False(r.Removed);
        Assert.Contains("403", r.Error, StringComparison.Ordinal);
        Assert.Single(LockFiles());

        var removed = await RepoLock.RemoveAsync(admin, _keys, all: false, TimeSpan.FromMinutes(30), TimeProvider.System, Ct);
        Assert.True(Assert.Single(removed).Removed);
        Assert.Empty(LockFiles());
        _ = id;
    }

    [Fact]
    public async Task An_exclusive_lock_through_the_server_waits_for_a_backup()
    {
        await using RestStore writer = _server.Store("writer");
        await using RestStore admin = _server.Store("admin");
        RepoLock backup = await Take(writer, LockMode.Host, "laptop");
        Task<RepoLock> purge = RepoLock.AcquireAsync(admin, _keys, LockMode.Exclusive,
            new LockOptions { Host = "nas", Purpose = "purge", Wait = TimeSpan.FromSeconds(30), PollInterval = TimeSpan.FromMilliseconds(100) }, TimeProvider.System, Ct);
        await Task.Delay(600, Ct);
        Assert.False(purge.IsCompleted);
        await backup.DisposeAsync();
        await using RepoLock held = await purge;
        var e = await Assert.ThrowsAsync<LockConflictException>(() => Take(writer, LockMode.Host, "desktop"));
        Assert.Contains("exclusive lock for purge", e.Message, StringComparison.Ordinal);
    }
}
