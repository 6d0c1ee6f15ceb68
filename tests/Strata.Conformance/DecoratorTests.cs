using Microsoft.Extensions.Time.Testing;
using Strata.Stores;

namespace Strata.Conformance;

/// <summary>The decorators' own promises, over a local store with a probe that measures how many calls overlap.</summary>
public sealed class DecoratorTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "strata-decorators-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static ObjectName Name(int i) => new(ObjectKind.Index, i.ToString("x8"));

    [Fact]
    public async Task LimitingStore_NeverRunsMoreThanItsConnections()
    {
        var probe = new OverlapProbe(new LocalStore(_root));
        var limited = new LimitingStore(probe);
        Assert.Equal(4, limited.Connections);
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            using var ms = new MemoryStream([1, 2, 3]);
            await limited.WriteAsync(Name(i), ms, default);
            await limited.ReadAsync(Name(i), 0, new byte[3], default);
        })));
        Assert.Equal(4, probe.MaxOverlap);
        Assert.Equal(0, limited.InFlight);
    }

    [Fact]
    public async Task LimitingStore_ACancelledWaitLeavesNoSlotTaken()
    {
        var probe = new OverlapProbe(new LocalStore(_root)) { Delay = TimeSpan.FromMilliseconds(200) };
        var limited = new LimitingStore(probe, connections: 1);
        Task first = limited.StatAsync(Name(1), default);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(20));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limited.StatAsync(Name(2), cts.Token));
        await first;
        Assert.Equal(0, limited.InFlight);
    }

    [Fact]
    public async Task RetryingStore_BacksOffExponentiallyOnItsClock()
    {
        var clock = new FakeTimeProvider();
        var faults = new FaultInjectingStore(new LocalStore(_root));
        for (int i = 1; i <= 3; i++)
        {
            faults.FailRead(i, new TransientStoreException("injected"));
        }
        using (var ms = new MemoryStream([7]))
        {
            await faults.WriteAsync(Name(1), ms, default);
        }
        var delays = new List<TimeSpan>();
        var retrying = new RetryingStore(faults, new RetryOptions(5, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)), clock, r => delays.Add(r.Delay));
        Task read = retrying.ReadAsync(Name(1), 0, new byte[1], default);
        // The backoffs wait on the injected clock: without it moving, the read stays pending; moved, it finishes at once.
        await Task.Delay(100);
        Assert.False(read.IsCompleted);
        for (int i = 0; i < 50 && !read.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(31));
            await Task.Delay(10);
        }
        await read.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(4, faults.Reads);
        Assert.Equal(3, delays.Count);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task RetryingStore_SeeksTheContentBackBeforeEachAttempt()
    {
        var faults = new FaultInjectingStore(new LocalStore(_root)).TruncateWrite(1, 5, new TransientStoreException("dropped"));
        var retrying = new RetryingStore(faults, new RetryOptions(3, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)));
        byte[] content = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        using var ms = new MemoryStream(content) { Position = 10 };
        await retrying.WriteAsync(Name(9), ms, default);
        byte[] got = new byte[90];
        await retrying.ReadAsync(Name(9), 0, got, default);
        Assert.Equal(content[10..], got);
        Assert.Equal(2, faults.Writes);
    }

    [Fact]
    public async Task RetryingStore_ListingThatFailsMidwayStartsAgainWithoutDuplicates()
    {
        var local = new LocalStore(_root);
        for (int i = 0; i < 10; i++)
        {
            using var ms = new MemoryStream([1]);
            await local.WriteAsync(Name(i), ms, default);
        }
        var flaky = new FlakyListing(local, failAfter: 6);
        var retrying = new RetryingStore(flaky, new RetryOptions(3, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)));
        var names = new List<ObjectName>();
        await foreach (ObjectInfo o in retrying.ListAsync(ObjectKind.Index, default))
        {
            names.Add(o.Name);
        }
        Assert.Equal(2, flaky.Listings);
        Assert.Equal(10, names.Count);
        Assert.Equal(10, names.Distinct().Count());
    }

    /// <summary>Counts how many calls overlap; each call waits a little so overlaps can happen.</summary>
    private sealed class OverlapProbe(IStore inner) : IStore
    {
        private int _now;
        private int _max;

        public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(5);
        public int MaxOverlap => Volatile.Read(ref _max);
        public string Location => inner.Location;
        public StoreProperties Properties => inner.Properties;

        private async Task<T> Probe<T>(Func<Task<T>> call)
        {
            int now = Interlocked.Increment(ref _now);
            int seen;
            while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
            {
            }
            try
            {
                await Task.Delay(Delay);
                return await call();
            }
            finally
            {
                Interlocked.Decrement(ref _now);
            }
        }

        public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => Probe(() => inner.StatAsync(name, ct));
        public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) => Probe(async () => { await inner.ReadAsync(name, offset, buffer, ct); return 0; });
        public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct) => Probe(async () => { await inner.WriteAsync(name, content, ct); return 0; });
        public Task DeleteAsync(ObjectName name, CancellationToken ct) => Probe(async () => { await inner.DeleteAsync(name, ct); return 0; });
        public IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct) => inner.ListAsync(kind, ct);
        public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => Probe(() => inner.GetThawStatusAsync(name, ct));
        public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => Probe(async () => { await inner.RequestThawAsync(name, request, ct); return 0; });
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>The first listing breaks with a transient error after some entries; later ones are whole.</summary>
    private sealed class FlakyListing(IStore inner, int failAfter) : IStore
    {
        public int Listings { get; private set; }
        public string Location => inner.Location;
        public StoreProperties Properties => inner.Properties;

        public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            bool fail = ++Listings == 1;
            int n = 0;
            await foreach (ObjectInfo o in inner.ListAsync(kind, ct))
            {
                if (fail && n++ == failAfter)
                {
                    throw new TransientStoreException("listing dropped (injected)");
                }
                yield return o;
            }
        }

        public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => inner.StatAsync(name, ct);
        public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) => inner.ReadAsync(name, offset, buffer, ct);
        public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct) => inner.WriteAsync(name, content, ct);
        public Task DeleteAsync(ObjectName name, CancellationToken ct) => inner.DeleteAsync(name, ct);
        public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => inner.GetThawStatusAsync(name, ct);
        public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => inner.RequestThawAsync(name, request, ct);
        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
