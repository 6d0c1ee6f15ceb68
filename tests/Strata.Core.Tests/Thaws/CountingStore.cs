using Strata.Stores;

namespace Strata.Tests.Thaws;

/// <summary>Passes everything to the inner store and counts thaw requests (and how many ran at once).</summary>
internal sealed class CountingStore(IStore inner) : IStore, IStoreDecorator
{
    private int _requests, _inFlight, _maxInFlight;

    public IStore Inner => inner;
    public int ThawRequests => Volatile.Read(ref _requests);
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);
    public string Location => inner.Location;
    public StoreProperties Properties => inner.Properties;

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => inner.StatAsync(name, ct);
    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(name, offset, buffer, ct);
    public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct) => inner.WriteAsync(name, content, ct);
    public Task DeleteAsync(ObjectName name, CancellationToken ct) => inner.DeleteAsync(name, ct);
    public IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct) => inner.ListAsync(kind, ct);
    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => inner.GetThawStatusAsync(name, ct);

    public async Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct)
    {
        int now = Interlocked.Increment(ref _inFlight);
        int max;
        while (now > (max = Volatile.Read(ref _maxInFlight)) && Interlocked.CompareExchange(ref _maxInFlight, now, max) != max)
        {
        }
        try
        {
            await Task.Yield();
            await inner.RequestThawAsync(name, request, ct);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            Interlocked.Increment(ref _requests);
        }
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
