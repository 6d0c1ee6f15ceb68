using System.Collections.Concurrent;

namespace Strata.Stores;

/// <summary>
/// For tests: wraps a store and makes chosen calls fail. Calls are counted per operation from 1; each fault fires once,
/// on the call it names. Faults: fail a write or read before it reaches the store, lose the answer of a write that
/// succeeded (the caller sees an error although the object exists), or cut a write's content after some bytes, as a
/// dropped connection does (the inner store sees its content stream throw midway).
/// </summary>
public sealed class FaultInjectingStore : IStore, IStoreDecorator
{
    private readonly IStore _inner;
    private readonly ConcurrentDictionary<int, Func<ObjectName, Stream, CancellationToken, Task>> _writeFaults = new();
    private readonly ConcurrentDictionary<int, Exception> _readFaults = new();
    private int _writes;
    private int _reads;

    public FaultInjectingStore(IStore inner) => _inner = inner;

    public IStore Inner => _inner;

    /// <summary>Write calls so far, faulty ones included.</summary>
    public int Writes => Volatile.Read(ref _writes);

    /// <summary>Read calls so far, faulty ones included.</summary>
    public int Reads => Volatile.Read(ref _reads);

    public string Location => _inner.Location;

    public StoreProperties Properties => _inner.Properties;

    /// <summary>The <paramref name="nth"/> write throws <paramref name="error"/> without reaching the store.</summary>
    public FaultInjectingStore FailWrite(int nth, Exception error)
    {
        _writeFaults[nth] = (_, _, _) => throw error;
        return this;
    }

    /// <summary>The <paramref name="nth"/> write reaches the store and succeeds, then throws <paramref name="error"/> (a lost response).</summary>
    public FaultInjectingStore LoseWriteResponse(int nth, Exception? error = null)
    {
        _writeFaults[nth] = async (name, content, ct) =>
        {
            await _inner.WriteAsync(name, content, ct).ConfigureAwait(false);
            throw error ?? new TransientStoreException($"writing {name.Path} in {Location}: the connection dropped before the answer (injected fault)");
        };
        return this;
    }

    /// <summary>
    /// The <paramref name="nth"/> write's content stream delivers <paramref name="afterBytes"/> bytes, then throws
    /// <paramref name="error"/> (default: an <see cref="IOException"/> like a reset connection). The stream still reports
    /// the full length, so the store plans the whole upload.
    /// </summary>
    public FaultInjectingStore TruncateWrite(int nth, long afterBytes, Exception? error = null)
    {
        _writeFaults[nth] = (name, content, ct) =>
            _inner.WriteAsync(name, new TruncatingStream(content, afterBytes, error ?? new IOException("connection reset by peer (injected fault)")), ct);
        return this;
    }

    /// <summary>The <paramref name="nth"/> read throws <paramref name="error"/> without reaching the store.</summary>
    public FaultInjectingStore FailRead(int nth, Exception error)
    {
        _readFaults[nth] = error;
        return this;
    }

    public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        int n = Interlocked.Increment(ref _writes);
        return _writeFaults.TryRemove(n, out var fault) ? fault(name, content, ct) : _inner.WriteAsync(name, content, ct);
    }

    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        int n = Interlocked.Increment(ref _reads);
        return _readFaults.TryRemove(n, out Exception? error) ? Task.FromException(error) : _inner.ReadAsync(name, offset, buffer, ct);
    }

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) => _inner.StatAsync(name, ct);

    public Task DeleteAsync(ObjectName name, CancellationToken ct) => _inner.DeleteAsync(name, ct);

    public IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct) => _inner.ListAsync(kind, ct);

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => _inner.GetThawStatusAsync(name, ct);

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => _inner.RequestThawAsync(name, request, ct);

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    /// <summary>Reads through to the caller's stream until the budget is spent, then throws. Never closes the caller's stream.</summary>
    private sealed class TruncatingStream(Stream inner, long budget, Exception error) : Stream
    {
        private long _left = budget;

        public override bool CanRead => true;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer[..Allow(buffer.Length)]);
            _left -= n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer[..Allow(buffer.Length)], cancellationToken).ConfigureAwait(false);
            _left -= n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Allow(int wanted)
        {
            if (wanted > 0 && _left <= 0)
            {
                throw error;
            }
            return (int)Math.Min(wanted, _left);
        }

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
