using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Strata.Stores;

/// <summary>
/// For crash tests only: kills the whole process with SIGKILL (no cleanup, no finally blocks) right after the N-th
/// successful write or delete, so a test can stop a real run at an exact point of its write order. The CLI wraps a store
/// in it only when STRATA_TEST_KILL_AFTER_WRITES or STRATA_TEST_KILL_AFTER_DELETES is set.
/// </summary>
public sealed class CrashingStore(IStore inner, int killAfterWrites, int killAfterDeletes) : IStore, IStoreDecorator
{
    private int _writes;
    private int _deletes;

    public IStore Inner => inner;
    public string Location => inner.Location;
    public StoreProperties Properties => inner.Properties;

    /// <summary>Wraps <paramref name="store"/> when the environment asks for a crash; otherwise returns it unchanged.</summary>
    public static IStore FromEnvironment(IStore store)
    {
        int writes = Read("STRATA_TEST_KILL_AFTER_WRITES"), deletes = Read("STRATA_TEST_KILL_AFTER_DELETES");
        return writes > 0 || deletes > 0 ? new CrashingStore(store, writes, deletes) : store;

        static int Read(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out int n) ? n : 0;
    }

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => inner.StatAsync(name, ct);

    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(name, offset, buffer, ct);

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        await inner.WriteAsync(name, content, ct).ConfigureAwait(false);
        if (killAfterWrites > 0 && Interlocked.Increment(ref _writes) == killAfterWrites)
        {
            Die($"write {killAfterWrites} ({name.Path})");
        }
    }

    public async Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        await inner.DeleteAsync(name, ct).ConfigureAwait(false);
        if (killAfterDeletes > 0 && Interlocked.Increment(ref _deletes) == killAfterDeletes)
        {
            Die($"delete {killAfterDeletes} ({name.Path})");
        }
    }

    public IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct) => inner.ListAsync(kind, ct);

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => inner.GetThawStatusAsync(name, ct);

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => inner.RequestThawAsync(name, request, ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Die(string after)
    {
        Console.Error.WriteLine($"strata: test crash after {after}");
        Console.Error.Flush();
        using var self = Process.GetCurrentProcess();
        self.Kill(); // SIGKILL
    }
}
