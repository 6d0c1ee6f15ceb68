using System.Diagnostics;
using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Locks;

/// <summary>How a lock is taken and kept. The defaults suit a real run; tests shorten the intervals.</summary>
public sealed record LockOptions
{
    /// <summary>What the holder does, shown to anyone who meets the lock ("backup", "purge").</summary>
    public string Purpose { get; init; } = "backup";

    /// <summary>The host the lock is for: a backup's --host. Host-mode locks of the same host exclude each other.</summary>
    public string Host { get; init; } = Environment.MachineName;

    /// <summary>How long to wait for conflicting locks to go away; zero fails at once.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.Zero;

    /// <summary>How often a held lock is rewritten with a new time.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A lock not rewritten for this long is stale: its holder is gone (or cut off) and it is ignored.</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>How often a waiting acquire looks again (with up to 50% random jitter, so two waiters do not collide forever).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Told about waiting and about refresh or release problems; never throws into the caller.</summary>
    public Action<string>? Report { get; init; }
}

/// <summary>One lock object as found in the repository. <see cref="Record"/> is null when it does not open (damaged or foreign).</summary>
public sealed record FoundLock(string Id, LockRecord? Record, DateTimeOffset? LastModified, bool Stale)
{
    public string Describe() => Record?.Describe() ?? $"unreadable lock {Id[..Math.Min(12, Id.Length)]}";
}

/// <summary>Another process holds a lock that this one cannot share. The message names the holder.</summary>
public sealed class LockConflictException : Exception
{
    public LockConflictException(string location, LockMode wanted, IReadOnlyList<FoundLock> holders, TimeSpan waited)
        : base(Describe(location, wanted, holders, waited)) => Holders = holders;

    public IReadOnlyList<FoundLock> Holders { get; }

    private static string Describe(string location, LockMode wanted, IReadOnlyList<FoundLock> holders, TimeSpan waited)
    {
        string after = waited > TimeSpan.Zero ? $" after waiting {waited.TotalSeconds:F0}s" : "";
        return $"{location} is locked{after}: a {wanted.ToString().ToLowerInvariant()} lock cannot be taken while there is a {string.Join("; ", holders.Select(h => h.Describe()))}. "
            + $"Wait for it to finish (or pass --lock-wait), or if that process is gone, run 'strata unlock' (stale locks expire after 30 minutes without refresh)";
    }
}

/// <summary>The lock could not be refreshed for so long that others may take it as stale; the run stopped.</summary>
public sealed class LockLostException : Exception
{
    public LockLostException(string location)
        : base($"stopped: the lock on {location} could not be refreshed for too long (see the messages above), so another run could have taken it; nothing was lost, run the command again") { }
}

/// <summary>
/// A lock held in a repository: <c>await using var held = await RepoLock.AcquireAsync(repo, LockMode.Exclusive, wait, ct)</c>.
/// Taking it writes a sealed lock object, then lists the others: if one conflicts and is not stale, the new object
/// is removed again and the caller waits (up to <see cref="LockOptions.Wait"/>) or gets a <see cref="LockConflictException"/>.
/// Writing first and looking second means two racing takers both see each other (objects are visible once written),
/// so at worst both back off and retry with jitter; never both proceed.
/// While held, the lock is rewritten every <see cref="LockOptions.RefreshInterval"/>; if that keeps failing until
/// the lock would look stale to others, <see cref="Lost"/> is cancelled so the holder stops.
/// Stale: not rewritten for <see cref="LockOptions.StaleAfter"/>, or written on this machine by a process that is gone.
/// Removing a lock is a delete: a Strata server allows a writer login that only for locks it created itself.
/// </summary>
public sealed class RepoLock : IAsyncDisposable
{
    private readonly IStore _store;
    private readonly MasterKeys _keys;
    private readonly LockOptions _options;
    private readonly TimeProvider _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _refresher;
    private LockRecord _record;
    private string _id;
    private DateTimeOffset _lastWritten;
    private int _disposed;

    private RepoLock(IStore store, MasterKeys keys, LockOptions options, TimeProvider clock, string id, LockRecord record)
    {
        _store = store;
        _keys = keys;
        _options = options;
        _clock = clock;
        _id = id;
        _record = record;
        _lastWritten = record.Time;
        _refresher = Task.Run(RefreshLoopAsync);
    }

    public LockMode Mode => _record.Mode;

    /// <summary>The current lock object's id (it changes at each refresh).</summary>
    public string Id => Volatile.Read(ref _id);

    /// <summary>Cancelled when the lock could not be refreshed for so long that others may treat it as stale.</summary>
    public CancellationToken Lost => _lost.Token;

    public static Task<RepoLock> AcquireAsync(Repo repo, LockMode mode, TimeSpan wait, CancellationToken ct) =>
        AcquireAsync(repo.Store, repo.Keys, mode, new LockOptions { Wait = wait }, repo.Clock, ct);

    public static Task<RepoLock> AcquireAsync(Repo repo, LockMode mode, LockOptions options, CancellationToken ct) =>
        AcquireAsync(repo.Store, repo.Keys, mode, options, repo.Clock, ct);

    public static async Task<RepoLock> AcquireAsync(IStore store, MasterKeys keys, LockMode mode, LockOptions options, TimeProvider clock, CancellationToken ct)
    {
        long started = clock.GetTimestamp();
        bool told = false;
        while (true)
        {
            // Look first, so a waiter does not churn lock objects while the holder works.
            var conflicts = await ConflictsAsync(store, keys, mode, options, clock, ownId: null, ct).ConfigureAwait(false);
            if (conflicts.Count == 0)
            {
                LockRecord record = NewRecord(mode, options, clock);
                string id = await WriteAsync(store, keys, record, ct).ConfigureAwait(false);
                conflicts = await ConflictsAsync(store, keys, mode, options, clock, id, ct).ConfigureAwait(false);
                if (conflicts.Count == 0)
                {
                    return new RepoLock(store, keys, options, clock, id, record);
                }
                // Someone took a conflicting lock at the same moment: step back so one of us can go on.
                await TryDeleteAsync(store, id, options, CancellationToken.None).ConfigureAwait(false);
            }
            TimeSpan waited = clock.GetElapsedTime(started);
            if (waited >= options.Wait)
            {
                throw new LockConflictException(store.Location, mode, conflicts, waited);
            }
            if (!told)
            {
                options.Report?.Invoke($"waiting up to {options.Wait.TotalSeconds:F0}s for {string.Join("; ", conflicts.Select(c => c.Describe()))}");
                told = true;
            }
            TimeSpan delay = options.PollInterval * (1 + Random.Shared.NextDouble() / 2);
            TimeSpan left = options.Wait - waited;
            await Task.Delay(delay < left ? delay : left, clock, ct).ConfigureAwait(false);
        }
    }

    private static LockRecord NewRecord(LockMode mode, LockOptions options, TimeProvider clock) =>
        new(LockRecord.CurrentVersion, mode, options.Host, Environment.MachineName, Environment.ProcessId, Environment.UserName, clock.GetUtcNow(), options.Purpose);

    /// <summary>Writes one lock object with a new random id and returns the id. Public for tools and tests that plant a lock.</summary>
    public static async Task<string> WriteAsync(IStore store, MasterKeys keys, LockRecord record, CancellationToken ct)
    {
        string id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var ms = new MemoryStream(record.Seal(keys.LockKey, id), writable: false);
        await store.WriteAsync(new ObjectName(ObjectKind.Locks, id), ms, ct).ConfigureAwait(false);
        return id;
    }

    /// <summary>Every lock object in the repository, opened and judged stale or live.</summary>
    public static async Task<List<FoundLock>> ListAsync(IStore store, MasterKeys keys, TimeSpan staleAfter, TimeProvider clock, CancellationToken ct)
    {
        var infos = new List<ObjectInfo>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Locks, ct).ConfigureAwait(false))
        {
            infos.Add(o);
        }
        var found = new List<FoundLock>();
        DateTimeOffset now = clock.GetUtcNow();
        foreach (ObjectInfo o in infos)
        {
            byte[] bytes;
            try
            {
                bytes = await Repo.ReadWholeAsync(store, o.Name, o.Length, ct).ConfigureAwait(false);
            }
            catch (ObjectNotFoundException)
            {
                continue; // released (or refreshed) between the listing and the read
            }
            LockRecord? r = LockRecord.TryOpen(bytes, keys.LockKey, o.Name.Name);
            bool stale = r is not null
                ? now - r.Time > staleAfter || (r.Machine == Environment.MachineName && !IsAlive(r.Pid))
                : o.LastModified is { } m && now - m > staleAfter;
            found.Add(new FoundLock(o.Name.Name, r, o.LastModified, stale));
        }
        return found;
    }

    private static async Task<List<FoundLock>> ConflictsAsync(IStore store, MasterKeys keys, LockMode mode, LockOptions options, TimeProvider clock, string? ownId, CancellationToken ct)
    {
        var all = await ListAsync(store, keys, options.StaleAfter, clock, ct).ConfigureAwait(false);
        // An unreadable lock that is not stale counts as a conflict: it may be a holder this key cannot read, and waiting is the safe side.
        return all.Where(l => l.Id != ownId && !l.Stale && (l.Record?.ConflictsWith(mode, options.Host) ?? true)).ToList();
    }

    /// <summary>What <see cref="RemoveAsync"/> did with one lock.</summary>
    public sealed record Removal(FoundLock Lock, bool Removed, string? Error);

    /// <summary>
    /// Removes stale locks (or every lock with <paramref name="all"/>). A lock whose delete is refused (a Strata server
    /// lets only an admin login delete locks another login created) is reported with the store's message.
    /// </summary>
    public static async Task<List<Removal>> RemoveAsync(IStore store, MasterKeys keys, bool all, TimeSpan staleAfter, TimeProvider clock, CancellationToken ct)
    {
        var result = new List<Removal>();
        foreach (FoundLock l in await ListAsync(store, keys, staleAfter, clock, ct).ConfigureAwait(false))
        {
            if (!all && !l.Stale)
            {
                result.Add(new Removal(l, false, null));
                continue;
            }
            try
            {
                await store.DeleteAsync(new ObjectName(ObjectKind.Locks, l.Id), ct).ConfigureAwait(false);
                result.Add(new Removal(l, true, null));
            }
            catch (StoreException e)
            {
                result.Add(new Removal(l, false, e.Message));
            }
        }
        return result;
    }

    /// <summary>Whether a process with this id runs on this machine. Pid reuse can only make a dead holder look alive (the safe side).</summary>
    internal static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }
        try
        {
            using Process p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private async Task RefreshLoopAsync()
    {
        TimeSpan retry = _options.RefreshInterval < TimeSpan.FromMinutes(1) ? _options.RefreshInterval : TimeSpan.FromMinutes(1);
        TimeSpan next = _options.RefreshInterval;
        try
        {
            while (true)
            {
                await Task.Delay(next, _clock, _stop.Token).ConfigureAwait(false);
                try
                {
                    // Not cancelled by Dispose: a write cut off after the store took it would leave a lock object
                    // nobody removes (and an old one not deleted yet the same). Dispose waits for it, then removes the current id.
                    await RefreshAsync(CancellationToken.None).ConfigureAwait(false);
                    next = _options.RefreshInterval;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _options.Report?.Invoke($"could not refresh the repository lock: {e.Message}");
                    // Stop the holder before others may take the lock as stale (keep a margin of one refresh interval).
                    if (_clock.GetUtcNow() - _lastWritten >= _options.StaleAfter - _options.RefreshInterval)
                    {
                        await _lost.CancelAsync().ConfigureAwait(false);
                        return;
                    }
                    next = retry;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Writes a new lock object with the current time, then removes the old one (objects are never rewritten).</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        LockRecord fresh = _record with { Time = _clock.GetUtcNow() };
        string newId = await WriteAsync(_store, _keys, fresh, ct).ConfigureAwait(false);
        string old = Interlocked.Exchange(ref _id, newId);
        _record = fresh;
        _lastWritten = fresh.Time;
        await TryDeleteAsync(_store, old, _options, ct).ConfigureAwait(false);
    }

    private static async Task TryDeleteAsync(IStore store, string id, LockOptions options, CancellationToken ct)
    {
        try
        {
            await store.DeleteAsync(new ObjectName(ObjectKind.Locks, id), ct).ConfigureAwait(false);
        }
        catch (StoreException e)
        {
            // E.g. a server that restarted no longer knows this login created the lock. It goes stale on its own.
            options.Report?.Invoke($"could not remove lock {id[..12]}: {e.Message}; it expires by itself after {options.StaleAfter.TotalMinutes:F0} minutes");
        }
    }

    /// <summary>Stops refreshing and removes the lock object.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await _refresher.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await TryDeleteAsync(_store, Id, _options, CancellationToken.None).ConfigureAwait(false);
        // The token sources are not disposed: callers may still hold tokens linked to Lost.
    }
}
