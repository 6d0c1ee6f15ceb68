using System.Collections.Concurrent;
using Renci.SshNet;

namespace Strata.Stores.Sftp;

/// <summary>
/// A few logged-in SFTP sessions, each used by one operation at a time: SSH.NET's SftpClient mixes up concurrent
/// transfers on one channel (sshnet/SSH.NET#640, #1612), so parallelism comes from separate connections.
/// A session that failed with a connection error is dropped, never handed out again; the next rent opens a new one.
/// </summary>
internal sealed class SftpSessionPool : IAsyncDisposable
{
    private readonly SftpConnector _connector;
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentBag<SftpClient> _idle = [];
    private volatile bool _disposed;

    public SftpSessionPool(SftpConnector connector, int size)
    {
        _connector = connector;
        _slots = new SemaphoreSlim(size, size);
    }

    public async Task<Lease> RentAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (_idle.TryTake(out SftpClient? idle))
            {
                if (idle.IsConnected)
                {
                    return new Lease(this, idle);
                }
                idle.Dispose();
            }
            return new Lease(this, await _connector.ConnectAsync(ct).ConfigureAwait(false));
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    private void Return(SftpClient client, bool broken)
    {
        if (broken || _disposed || !client.IsConnected)
        {
            client.Dispose();
        }
        else
        {
            _idle.Add(client);
        }
        _slots.Release();
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idle.TryTake(out SftpClient? client))
        {
            client.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>One session for one operation; <see cref="Broken"/> says the session must not be reused.</summary>
    internal sealed class Lease(SftpSessionPool pool, SftpClient client) : IDisposable
    {
        private int _returned;

        public SftpClient Client { get; } = client;

        public bool Broken { get; set; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _returned, 1) == 0)
            {
                pool.Return(Client, Broken);
            }
        }
    }
}
