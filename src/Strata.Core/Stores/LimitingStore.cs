using System.Runtime.CompilerServices;

namespace Strata.Stores;

/// <summary>
/// Lets at most <see cref="StoreProperties.Connections"/> requests of the inner store run at once; the rest wait in
/// FIFO-ish order (SemaphoreSlim). A listing holds a slot only while it fetches its next entry, so a caller may use
/// the store inside an <c>await foreach</c> without deadlocking itself. Compose it inside <see cref="RetryingStore"/>.
/// </summary>
public sealed class LimitingStore : IStore, IStoreDecorator
{
    private readonly IStore _inner;
    private readonly SemaphoreSlim _slots;

    /// <param name="connections">Overrides the inner store's <see cref="StoreProperties.Connections"/>.</param>
    public LimitingStore(IStore inner, int? connections = null)
    {
        _inner = inner;
        Connections = connections ?? inner.Properties.Connections;
        ArgumentOutOfRangeException.ThrowIfLessThan(Connections, 1);
        _slots = new SemaphoreSlim(Connections, Connections);
    }

    public int Connections { get; }

    /// <summary>Requests running now (for metrics and tests).</summary>
    public int InFlight => Connections - _slots.CurrentCount;

    public IStore Inner => _inner;

    public string Location => _inner.Location;

    public StoreProperties Properties => _inner.Properties with { Connections = Connections };

    private async Task<T> LimitAsync<T>(Func<Task<T>> action, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await action().ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task LimitAsync(Func<Task> action, CancellationToken ct)
    {
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await action().ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => LimitAsync(() => _inner.StatAsync(name, ct), ct);

    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) =>
        LimitAsync(() => _inner.ReadAsync(name, offset, buffer, ct), ct);

    public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct) => LimitAsync(() => _inner.WriteAsync(name, content, ct), ct);

    public Task DeleteAsync(ObjectName name, CancellationToken ct) => LimitAsync(() => _inner.DeleteAsync(name, ct), ct);

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => LimitAsync(() => _inner.GetThawStatusAsync(name, ct), ct);

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) =>
        LimitAsync(() => _inner.RequestThawAsync(name, request, ct), ct);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        IAsyncEnumerator<ObjectInfo> cursor = _inner.ListAsync(kind, ct).GetAsyncEnumerator(ct);
        try
        {
            while (await LimitAsync(async () => await cursor.MoveNextAsync().ConfigureAwait(false), ct).ConfigureAwait(false))
            {
                yield return cursor.Current;
            }
        }
        finally
        {
            await cursor.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        _slots.Dispose();
    }
}
