using System.Runtime.CompilerServices;
using Polly;
using Polly.Retry;

namespace Strata.Stores;

/// <summary>How <see cref="RetryingStore"/> retries.</summary>
/// <param name="Attempts">Tries per operation, the first included.</param>
/// <param name="BaseDelay">The first backoff; each later one doubles, with jitter.</param>
/// <param name="MaxDelay">The longest single backoff.</param>
public sealed record RetryOptions(int Attempts = 5, TimeSpan? BaseDelay = null, TimeSpan? MaxDelay = null)
{
    public TimeSpan FirstDelay => BaseDelay ?? TimeSpan.FromSeconds(1);
    public TimeSpan LongestDelay => MaxDelay ?? TimeSpan.FromSeconds(30);
}

/// <summary>One retry about to happen: which operation, on what, after which error, and the wait before it.</summary>
public sealed record StoreRetry(string Operation, string Target, int Attempt, TimeSpan Delay, StoreException Error);

/// <summary>
/// Retries every operation of another store on <see cref="TransientStoreException"/> only, with exponential backoff and
/// jitter (Polly). Not-found, exists, frozen and permanent errors pass through at once, as does cancellation.
/// Compose it outside <see cref="LimitingStore"/> so a backoff does not hold a connection slot.
/// A write seeks its content back to where it started before each attempt; a non-seekable stream is tried once.
/// A listing that fails midway starts again and skips the names it already gave (memory: one name per object listed).
/// </summary>
public sealed class RetryingStore : IStore, IStoreDecorator
{
    private readonly IStore _inner;
    private readonly ResiliencePipeline _pipeline;

    public RetryingStore(IStore inner, RetryOptions? options = null, TimeProvider? clock = null, Action<StoreRetry>? onRetry = null)
    {
        _inner = inner;
        options ??= new RetryOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Attempts, 1);
        Options = options;
        var builder = new ResiliencePipelineBuilder();
        if (clock is not null)
        {
            builder.TimeProvider = clock;
        }
        if (options.Attempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<TransientStoreException>(),
                MaxRetryAttempts = options.Attempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.FirstDelay,
                MaxDelay = options.LongestDelay,
                OnRetry = args =>
                {
                    if (onRetry is not null && args.Outcome.Exception is StoreException error)
                    {
                        args.Context.Properties.TryGetValue(OperationKey, out string? operation);
                        args.Context.Properties.TryGetValue(TargetKey, out string? target);
                        onRetry(new StoreRetry(operation ?? "?", target ?? inner.Location, args.AttemptNumber + 1, args.RetryDelay, error));
                    }
                    return default;
                },
            });
        }
        _pipeline = builder.Build();
    }

    private static readonly ResiliencePropertyKey<string> OperationKey = new("strata.operation");
    private static readonly ResiliencePropertyKey<string> TargetKey = new("strata.target");

    public RetryOptions Options { get; }

    public IStore Inner => _inner;

    public string Location => _inner.Location;

    public StoreProperties Properties => _inner.Properties;

    private async ValueTask<T> RunAsync<T>(string operation, string target, Func<CancellationToken, ValueTask<T>> action, CancellationToken ct)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(ct);
        context.Properties.Set(OperationKey, operation);
        context.Properties.Set(TargetKey, target);
        try
        {
            return await _pipeline.ExecuteAsync(static (c, a) => a(c.CancellationToken), context, action).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async Task RunAsync(string operation, string target, Func<CancellationToken, Task> action, CancellationToken ct) =>
        await RunAsync<bool>(operation, target, async c =>
        {
            await action(c).ConfigureAwait(false);
            return true;
        }, ct).ConfigureAwait(false);

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) =>
        RunAsync("stat", name.Path, c => new ValueTask<ObjectInfo?>(_inner.StatAsync(name, c)), ct).AsTask();

    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct) =>
        RunAsync("read", name.Path, c => _inner.ReadAsync(name, offset, buffer, c), ct);

    public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        if (!content.CanSeek)
        {
            return _inner.WriteAsync(name, content, ct);
        }
        long start = content.Position;
        return RunAsync("write", name.Path, c =>
        {
            content.Position = start;
            return _inner.WriteAsync(name, content, c);
        }, ct);
    }

    public Task DeleteAsync(ObjectName name, CancellationToken ct) =>
        RunAsync("delete", name.Path, c => _inner.DeleteAsync(name, c), ct);

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) =>
        RunAsync("thaw status", name.Path, c => new ValueTask<ThawStatus>(_inner.GetThawStatusAsync(name, c)), ct).AsTask();

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) =>
        RunAsync("thaw", name.Path, c => _inner.RequestThawAsync(name, request, c), ct);

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        var seen = new HashSet<ObjectName>();
        IAsyncEnumerator<ObjectInfo>? cursor = null;
        try
        {
            while (true)
            {
                ObjectInfo? next = await RunAsync<ObjectInfo?>("list", ObjectKinds.Folder(kind), async c =>
                {
                    while (true)
                    {
                        cursor ??= _inner.ListAsync(kind, ct).GetAsyncEnumerator(ct);
                        bool more;
                        try
                        {
                            more = await cursor.MoveNextAsync().ConfigureAwait(false);
                        }
                        catch
                        {
                            // Start the listing again on the next attempt.
                            IAsyncEnumerator<ObjectInfo> broken = cursor;
                            cursor = null;
                            await DisposeQuietlyAsync(broken).ConfigureAwait(false);
                            throw;
                        }
                        if (!more)
                        {
                            return null;
                        }
                        if (seen.Add(cursor.Current.Name))
                        {
                            return cursor.Current;
                        }
                    }
                }, ct).ConfigureAwait(false);
                if (next is null)
                {
                    yield break;
                }
                yield return next;
            }
        }
        finally
        {
            if (cursor is not null)
            {
                await cursor.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<ObjectInfo> cursor)
    {
        try
        {
            await cursor.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The listing already failed; that error is the one that matters.
        }
    }

    public ValueTask DisposeAsync() => _inner.DisposeAsync();
}
