using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Sftp;

namespace Strata.Stores.Sftp;

/// <summary>
/// A repository in a folder on an SFTP server, laid out as <see cref="LocalStore"/> lays out a local folder (config,
/// keys/, snapshots/, index/, ..., data packs under data/XX/ by their first two hex digits), so a repository can be
/// copied between the two with any file tool. Writes are create-only and atomic: the bytes go to a temporary name in the
/// object's own folder (".tmp-..." which no listing returns), then a plain SFTP rename, which fails when the target
/// exists, gives them their name; a rename refused because the name exists is then settled by comparing bytes. A
/// dropped connection leaves at most a stray temporary file. No cold tier. Operations run on a small pool of sessions.
/// SFTP has no fsync in SSH.NET: an object is as durable as the server makes a renamed file.
/// </summary>
public sealed class SftpStore : IStore
{
    private const int CompareBufferSize = 64 * 1024;
    internal const string TempPrefix = ".tmp-";

    private readonly SftpStoreOptions _options;
    private readonly SftpLocation _location;
    private readonly SftpSessionPool _pool;
    private readonly string _root;

    public SftpStore(SftpStoreOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Connections, 1);
        _options = options;
        _location = options.Location;
        _root = _location.Path;
        _pool = new SftpSessionPool(new SftpConnector(options), options.Connections);
        Location = _location.Display;
    }

    public string Location { get; }

    public SftpStoreOptions Options => _options;

    public StoreProperties Properties => new(Connections: _options.Connections, HasColdTier: false, PriceProvider: "local");

    private string Join(string relative) => _root == "/" ? "/" + relative : _root + "/" + relative;

    private string PathOf(ObjectName name) => name.Kind == ObjectKind.Data
        ? Join($"data/{(name.Name.Length >= 2 ? name.Name[..2] : "00")}/{name.Name}")
        : Join(name.Path);

    private static string ParentOf(string path) => path[..path.LastIndexOf('/')];

    // ---------------------------------------------------------------- stat, read

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct) =>
        RunAsync("reading the attributes of", PathOf(name), async client =>
        {
            SftpFileAttributes? attributes = await TryStatAsync(client, PathOf(name), ct).ConfigureAwait(false);
            return attributes is { IsRegularFile: true } a ? new ObjectInfo(name, a.Size, ToOffset(a.LastWriteTimeUtc), "local") : null;
        }, ct);

    public Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        string path = PathOf(name);
        return RunAsync("reading", path, async client =>
        {
            SftpFileStream stream;
            try
            {
                stream = await client.OpenAsync(path, FileMode.Open, FileAccess.Read, ct).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException)
            {
                throw new ObjectNotFoundException(Location, name);
            }
            await using (stream.ConfigureAwait(false))
            {
                stream.Seek(offset, SeekOrigin.Begin);
                int total = 0;
                while (total < buffer.Length)
                {
                    int n = await stream.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw new PermanentStoreException($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + buffer.Length}, it ends at {offset + total}");
                    }
                    total += n;
                }
            }
            return true;
        }, ct);
    }

    // ---------------------------------------------------------------- write

    public Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        string path = PathOf(name);
        string folder = ParentOf(path);
        long start = content.Position;
        return RunAsync("writing", path, async client =>
        {
            string temp = folder + "/" + TempPrefix + Guid.NewGuid().ToString("N");
            bool uploaded = false;
            try
            {
                try
                {
                    await client.UploadFileAsync(content, temp, ct).ConfigureAwait(false);
                }
                catch (SftpPathNotFoundException)
                {
                    // The kind's folder (or data/XX/) does not exist yet.
                    await CreateFoldersAsync(client, folder, ct).ConfigureAwait(false);
                    content.Position = start;
                    await client.UploadFileAsync(content, temp, ct).ConfigureAwait(false);
                }
                uploaded = true;
                try
                {
                    // SSH_FXP_RENAME (not posix-rename@openssh.com) never replaces an existing file.
                    await client.RenameFileAsync(temp, path, ct).ConfigureAwait(false);
                    uploaded = false;
                    return true;
                }
                catch (SftpException e) when (e is not SftpPermissionDeniedException)
                {
                    SftpFileAttributes? existing = await TryStatAsync(client, path, ct).ConfigureAwait(false);
                    if (existing is null)
                    {
                        throw;
                    }
                }
                // The name exists: identical bytes make this a retry (success); anything else is refused.
                if (!await SameContentAsync(client, path, content, start, ct).ConfigureAwait(false))
                {
                    throw new ObjectExistsException(Location, name);
                }
                return true;
            }
            finally
            {
                if (uploaded && client.IsConnected)
                {
                    await TryDeleteAsync(client, temp).ConfigureAwait(false);
                }
            }
        }, ct);
    }

    /// <summary>Creates the folders below the repository root that lead to <paramref name="folder"/>; the root itself must exist.</summary>
    private async Task CreateFoldersAsync(SftpClient client, string folder, CancellationToken ct)
    {
        string relative = folder.Length > _root.Length ? folder[(_root.Length + (_root == "/" ? 0 : 1))..] : "";
        string current = _root;
        foreach (string part in relative.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current == "/" ? "/" + part : current + "/" + part;
            try
            {
                await client.CreateDirectoryAsync(current, ct).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException e)
            {
                throw new PermanentStoreException($"the repository folder {_root} does not exist on {_location.Server} (create it, or run strata init)", e);
            }
            catch (SftpException e) when (e is not SftpPermissionDeniedException)
            {
                // Another writer created it first (or it is a file): go on if a folder is there now.
                if (await TryStatAsync(client, current, ct).ConfigureAwait(false) is not { IsDirectory: true })
                {
                    throw;
                }
            }
        }
    }

    /// <summary>Whether the stored object holds exactly the bytes of <paramref name="content"/> from <paramref name="start"/>.</summary>
    private static async Task<bool> SameContentAsync(SftpClient client, string path, Stream content, long start, CancellationToken ct)
    {
        content.Position = start;
        SftpFileStream stored = await client.OpenAsync(path, FileMode.Open, FileAccess.Read, ct).ConfigureAwait(false);
        await using (stored.ConfigureAwait(false))
        {
            if (stored.Length != content.Length - start)
            {
                return false;
            }
            byte[] a = new byte[CompareBufferSize];
            byte[] b = new byte[CompareBufferSize];
            while (true)
            {
                int na = await content.ReadAtLeastAsync(a, a.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                int nb = await stored.ReadAtLeastAsync(b, b.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                if (na != nb || !a.AsSpan(0, na).SequenceEqual(b.AsSpan(0, nb)))
                {
                    return false;
                }
                if (na == 0)
                {
                    return true;
                }
            }
        }
    }

    // ---------------------------------------------------------------- delete, list

    public Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        string path = PathOf(name);
        return RunAsync("deleting", path, async client =>
        {
            try
            {
                await client.DeleteFileAsync(path, ct).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException)
            {
                // Already gone: deleting is idempotent.
            }
            return true;
        }, ct);
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        if (kind == ObjectKind.Config)
        {
            if (await StatAsync(ObjectName.Config, ct).ConfigureAwait(false) is { } config)
            {
                yield return config;
            }
            yield break;
        }
        string folder = Join(ObjectKinds.Folder(kind));
        // Each folder is read whole on a rented session and returned before the caller sees an entry, so a caller that
        // uses the store inside its listing never waits for a session the listing holds.
        List<ISftpFile> entries = await ListFolderAsync(folder, ct).ConfigureAwait(false);
        var subfolders = new List<string>();
        foreach (ISftpFile entry in entries)
        {
            if (entry.IsDirectory && kind == ObjectKind.Data && entry.Name is not ("." or ".."))
            {
                subfolders.Add(entry.FullName);
            }
            else if (ToInfo(kind, entry) is { } info)
            {
                yield return info;
            }
        }
        foreach (string sub in subfolders)
        {
            foreach (ISftpFile entry in await ListFolderAsync(sub, ct).ConfigureAwait(false))
            {
                if (ToInfo(kind, entry) is { } info)
                {
                    yield return info;
                }
            }
        }
    }

    private static ObjectInfo? ToInfo(ObjectKind kind, ISftpFile entry) =>
        entry.IsRegularFile && ObjectName.IsValidName(kind, entry.Name)
            ? new ObjectInfo(new ObjectName(kind, entry.Name), entry.Length, ToOffset(entry.LastWriteTimeUtc), "local")
            : null;

    /// <summary>The entries of one folder; a missing folder holds nothing.</summary>
    private Task<List<ISftpFile>> ListFolderAsync(string folder, CancellationToken ct) =>
        RunAsync("listing", folder, async client =>
        {
            var entries = new List<ISftpFile>();
            try
            {
                await foreach (ISftpFile entry in client.ListDirectoryAsync(folder, ct).ConfigureAwait(false))
                {
                    entries.Add(entry);
                }
            }
            catch (SftpPathNotFoundException)
            {
                entries.Clear();
            }
            return entries;
        }, ct);

    // ---------------------------------------------------------------- thaws (none)

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => Task.FromResult(new ThawStatus(ThawState.Readable));

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => Task.CompletedTask;

    // ---------------------------------------------------------------- folders (init)

    /// <summary>Creates the repository folder (and its parents) if missing, for init.</summary>
    public Task CreateRootIfMissingAsync(CancellationToken ct) =>
        RunAsync("creating the folder", _root, async client =>
        {
            string? current = _root.StartsWith('/') ? "" : null;
            foreach (string part in _root.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                current = current is null ? part : current + "/" + part;
                if (await TryStatAsync(client, current, ct).ConfigureAwait(false) is { } existing)
                {
                    if (!existing.IsDirectory)
                    {
                        throw new PermanentStoreException($"{current} on {_location.Server} is a file, not a folder");
                    }
                    continue;
                }
                await client.CreateDirectoryAsync(current, ct).ConfigureAwait(false);
            }
            return true;
        }, ct);

    // ---------------------------------------------------------------- sessions and errors

    /// <summary>
    /// Runs one operation on a rented session. A connection error marks the session broken (it is closed, not reused)
    /// and becomes a <see cref="TransientStoreException"/>; other SSH/SFTP errors become permanent ones naming the path and server.
    /// </summary>
    private async Task<T> RunAsync<T>(string what, string path, Func<SftpClient, Task<T>> operation, CancellationToken ct)
    {
        SftpSessionPool.Lease lease = await _pool.RentAsync(ct).ConfigureAwait(false);
        try
        {
            return await operation(lease.Client).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            // A cancelled or failed request may leave answers in flight on this session: never reuse it then.
            lease.Broken = !lease.Client.IsConnected || IsConnectionError(e) || e is OperationCanceledException;
            ct.ThrowIfCancellationRequested();
            throw Classify(e, what, path);
        }
        finally
        {
            lease.Dispose();
        }
    }

    private static bool IsConnectionError(Exception e) => e is SshConnectionException or SshOperationTimeoutException or SocketException
        or IOException or ObjectDisposedException or InvalidOperationException or TimeoutException
        || (e is SshException && e is not SftpException);

    private StoreException Classify(Exception e, string what, string path)
    {
        string where = $"{path} on {_location.Server}";
        return e switch
        {
            SftpPermissionDeniedException => new PermanentStoreException($"permission denied {what} {where}", e),
            SftpPathNotFoundException => new PermanentStoreException($"no such file or folder: {what} {where}", e),
            SftpException s => new PermanentStoreException($"{what} {where} failed: {s.Message} (SFTP status {s.StatusCode})", e),
            OperationCanceledException => new TransientStoreException($"{what} {where} timed out", e),
            _ when IsConnectionError(e) => new TransientStoreException($"{what} {where}: the connection was lost ({e.Message.TrimEnd('.')})", e),
            _ => new TransientStoreException($"{what} {where} failed: {e.GetType().Name}: {e.Message}", e),
        };
    }

    private static async Task<SftpFileAttributes?> TryStatAsync(SftpClient client, string path, CancellationToken ct)
    {
        try
        {
            return await client.GetAttributesAsync(path, ct).ConfigureAwait(false);
        }
        catch (SftpPathNotFoundException)
        {
            return null;
        }
    }

    private static async Task TryDeleteAsync(SftpClient client, string path)
    {
        try
        {
            await client.DeleteFileAsync(path, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SshException or IOException or InvalidOperationException or ObjectDisposedException)
        {
            // A stray temporary file is harmless: no listing returns it.
        }
    }

    private static DateTimeOffset? ToOffset(DateTime utc) => utc == default ? null : new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc));

    public ValueTask DisposeAsync() => _pool.DisposeAsync();
}
