using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Strata.Stores;

/// <summary>
/// A repository in a folder of a WebDAV server (a NAS, apache mod_dav, nextcloud...): <c>webdav:https://user:pass@host/path</c>.
/// The layout is <see cref="LocalStore"/>'s (data packs under data/XX/ by their first two hex digits), so a folder
/// copied between the two is a valid repository. Plain HTTP with basic auth:
/// <list type="bullet">
/// <item>stat: PROPFIND Depth 0 (HEAD is not used: apache sends no Content-Length for an empty file's HEAD);</item>
/// <item>read: GET with Range; a server that ignores Range and answers 200 is read from the start and skipped forward;</item>
/// <item>write: PUT to tmp/GUID, then MOVE with <c>Overwrite: F</c> to the final name, so no reader sees a partial object and
/// an existing object is never replaced (412: the bytes are compared; same bytes is an idempotent retry). The MOVE's
/// existence check and rename are one step on apache mod_dav_fs but not atomic against another writer of the same
/// name; such writers carry the same bytes (names are content hashes or random), so either result is right;</item>
/// <item>delete: DELETE (404 is a success); list: PROPFIND Depth 1 on the kind's folder (and each data/XX folder);</item>
/// <item>folders are created with MKCOL on first use (a PUT or MOVE into a missing folder fails with 409).</item>
/// </list>
/// Status codes are classified here: 5xx, 408, 429 and network failures or timeouts are transient; 401, 403, 507 and
/// anything else unexpected are permanent. Messages name the URL without the password. No cold tier.
/// </summary>
public sealed class WebDavStore : IStore
{
    private static readonly HttpMethod Propfind = new("PROPFIND");
    private static readonly HttpMethod Mkcol = new("MKCOL");
    private static readonly HttpMethod Move = new("MOVE");
    private const string StorageClass = "webdav";
    private const string TempFolder = "tmp";

    private readonly HttpClient _http;
    private readonly WebDavLocation _location;
    private readonly TimeSpan _requestTimeout;

    /// <summary>Folders (relative to the base, without a trailing '/') known to exist, so each is created at most once per process.</summary>
    private readonly ConcurrentDictionary<string, bool> _folders = new(StringComparer.Ordinal);

    /// <param name="transferTimeout">How long an upload (PUT) or a read (GET, until its headers) may take before it counts as a transient failure.</param>
    /// <param name="requestTimeout">The same for the small requests (PROPFIND, MKCOL, MOVE, DELETE), so a server that hangs is noticed soon.</param>
    public WebDavStore(WebDavLocation location, HttpMessageHandler? handler = null, TimeSpan? transferTimeout = null, TimeSpan? requestTimeout = null)
    {
        _requestTimeout = requestTimeout ?? TimeSpan.FromMinutes(2);
        _location = location;
        Location = location.Display;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 16,
            // A redirect would drop the Authorization header and may turn a MOVE into a GET: report it instead.
            AllowAutoRedirect = false,
        })
        {
            Timeout = transferTimeout ?? TimeSpan.FromMinutes(30),
        };
        if (location.User is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes(location.User + ":" + (location.Password ?? ""))));
        }
    }

    /// <summary>Parses <c>webdav:http(s)://[user[:password]@]host[:port]/path</c> (see <see cref="WebDavLocation.Parse"/>).</summary>
    public static WebDavStore Open(string location, Func<string, string?>? environment = null) => new(WebDavLocation.Parse(location, environment));

    /// <summary>The URL with the user but without the password.</summary>
    public string Location { get; }

    public Uri BaseUri => _location.BaseUri;

    public StoreProperties Properties { get; } = new(Connections: 4, HasColdTier: false, PriceProvider: "local", ColdStorageClass: StorageClass, WarmStorageClass: StorageClass);

    /// <summary>LocalStore's layout: "config", "index/ab12...", "data/ab/ab12...".</summary>
    private static string PathOf(ObjectName name) => name.Kind == ObjectKind.Data
        ? "data/" + (name.Name.Length >= 2 ? name.Name[..2] : "00") + "/" + name.Name
        : name.Path;

    private static string FolderOf(string path) => path.Contains('/', StringComparison.Ordinal) ? path[..path.LastIndexOf('/')] : "";

    private Uri UriOf(string relative) => new(_location.BaseUri, relative);

    // ---------------------------------------------------------------- HTTP plumbing

    /// <summary>Sends a request; a transfer (PUT, GET) may take the client's timeout, anything else <see cref="_requestTimeout"/>.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        bool transfer = request.Method == HttpMethod.Put || request.Method == HttpMethod.Get;
        TimeSpan limit = transfer ? _http.Timeout : _requestTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (!transfer)
        {
            timeout.CancelAfter(_requestTimeout);
        }
        try
        {
            return await _http.SendAsync(request, completion, timeout.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new TransientStoreException($"{what} at {Location}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TransientStoreException($"{what} at {Location}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TransientStoreException($"{what} at {Location}: no answer within {limit.TotalSeconds:0.#} s", e);
        }
    }

    /// <summary>Turns an unexpected status into the store error it means.</summary>
    private StoreException Failure(HttpResponseMessage r, string what)
    {
        int code = (int)r.StatusCode;
        return code switch
        {
            401 => new PermanentStoreException(_location.User is null
                ? $"{what} at {Location}: the server wants a login (HTTP 401): put the user in the URL (webdav:https://user@host/path) or in {WebDavLocation.UserVariable}, and the password in {WebDavLocation.PasswordVariable}"
                : $"{what} at {Location}: the server refused the login of {_location.User} (HTTP 401): check the user and password (in the URL or {WebDavLocation.UserVariable} / {WebDavLocation.PasswordVariable})"),
            403 => new PermanentStoreException($"{what} at {Location}: this login may not do that (HTTP 403)"),
            507 => new PermanentStoreException($"{what} at {Location}: the server is out of space (HTTP 507)"),
            413 => new PermanentStoreException($"{what} at {Location}: the object is larger than the server accepts (HTTP 413)"),
            405 => new PermanentStoreException($"{what} at {Location}: the server does not allow {r.RequestMessage?.Method} here (HTTP 405): is WebDAV enabled for this URL?"),
            >= 300 and < 400 => new PermanentStoreException($"{what} at {Location}: the server redirects (HTTP {code}) to {r.Headers.Location}: use that URL"),
            408 or 429 or >= 500 => new TransientStoreException($"{what} at {Location}: HTTP {code} {r.ReasonPhrase}"),
            _ => new PermanentStoreException($"{what} at {Location}: HTTP {code} {r.ReasonPhrase}"),
        };
    }

    private async Task<List<DavEntry>?> PropfindAsync(Uri uri, int depth, string what, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(Propfind, uri);
        request.Headers.Add("Depth", depth.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Content = new StringContent(DavMultistatus.PropfindBody, Encoding.UTF8, "application/xml");
        using HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (r.StatusCode != HttpStatusCode.MultiStatus)
        {
            throw Failure(r, what);
        }
        try
        {
            await using Stream body = await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            return DavMultistatus.Parse(body);
        }
        catch (FormatException e)
        {
            throw new PermanentStoreException($"{what} at {Location}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new TransientStoreException($"{what} at {Location}: {e.Message}", e);
        }
    }

    /// <summary>Creates a folder (relative to the base; "" is the base itself) and its missing parents. Existing folders are fine.</summary>
    private async Task EnsureFolderAsync(string relative, CancellationToken ct)
    {
        if (_folders.ContainsKey(relative))
        {
            return;
        }
        Uri uri = relative.Length == 0 ? _location.BaseUri : UriOf(relative + "/");
        await EnsureFolderAsync(uri, ct).ConfigureAwait(false);
        _folders[relative] = true;
    }

    private async Task EnsureFolderAsync(Uri folder, CancellationToken ct)
    {
        string what = $"create folder {folder.AbsolutePath}";
        using (var request = new HttpRequestMessage(Mkcol, folder))
        using (HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false))
        {
            // 201: created. 405: something is there already (a folder, or the MOVE that follows fails clearly).
            if (r.IsSuccessStatusCode || r.StatusCode == HttpStatusCode.MethodNotAllowed)
            {
                return;
            }
            if (r.StatusCode != HttpStatusCode.Conflict || folder.AbsolutePath == "/")
            {
                await FolderExistsOrThrowAsync(folder, r, what, ct).ConfigureAwait(false);
                return;
            }
        }
        // 409: the parent is missing. Create it, then this one.
        await EnsureFolderAsync(new Uri(folder, ".."), ct).ConfigureAwait(false);
        using var again = new HttpRequestMessage(Mkcol, folder);
        using HttpResponseMessage r2 = await SendAsync(again, what, ct).ConfigureAwait(false);
        if (!r2.IsSuccessStatusCode && r2.StatusCode != HttpStatusCode.MethodNotAllowed)
        {
            await FolderExistsOrThrowAsync(folder, r2, what, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// After a refused MKCOL: when another writer created the folder at the same moment (apache answers the loser 403),
    /// the folder is there and all is well; otherwise the refusal stands.
    /// </summary>
    private async Task FolderExistsOrThrowAsync(Uri folder, HttpResponseMessage refused, string what, CancellationToken ct)
    {
        if (refused.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Conflict))
        {
            List<DavEntry>? entries = await PropfindAsync(folder, 0, what, ct).ConfigureAwait(false);
            if (entries is [{ IsCollection: true }, ..])
            {
                return;
            }
        }
        throw Failure(refused, what);
    }

    /// <summary>Creates the repository's folder (and missing parents) on the server, for init.</summary>
    public Task CreateFolderAsync(CancellationToken ct) => EnsureFolderAsync("", ct);

    // ---------------------------------------------------------------- the contract

    public async Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct)
    {
        List<DavEntry>? entries = await PropfindAsync(UriOf(PathOf(name)), 0, $"stat {name.Path}", ct).ConfigureAwait(false);
        DavEntry? entry = entries?.FirstOrDefault();
        if (entry is null || entry.IsCollection)
        {
            return null;
        }
        long length = entry.Length ?? throw new PermanentStoreException($"stat {name.Path} at {Location}: the server sent no length");
        return new ObjectInfo(name, length, entry.LastModified, StorageClass);
    }

    public async Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        if (buffer.Length == 0)
        {
            ObjectInfo info = await StatAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
            if (offset > info.Length)
            {
                throw Short(name, offset, 0, info.Length);
            }
            return;
        }
        string what = $"read {name.Path}";
        using var request = new HttpRequestMessage(HttpMethod.Get, UriOf(PathOf(name)));
        request.Headers.Range = new RangeHeaderValue(offset, offset + buffer.Length - 1);
        using HttpResponseMessage r = await SendAsync(request, what, ct, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        long skip;
        switch (r.StatusCode)
        {
            case HttpStatusCode.NotFound:
                throw new ObjectNotFoundException(Location, name);
            case HttpStatusCode.RequestedRangeNotSatisfiable:
                throw Short(name, offset, buffer.Length, r.Content.Headers.ContentRange?.Length);
            case HttpStatusCode.PartialContent:
                // A server may start the range earlier than asked (never later): skip to the offset.
                long from = r.Content.Headers.ContentRange?.From ?? offset;
                if (from > offset)
                {
                    throw new PermanentStoreException($"{what} at {Location}: asked for bytes from {offset}, the server sent bytes from {from}");
                }
                skip = offset - from;
                break;
            case HttpStatusCode.OK:
                // A server that ignores Range sends the whole object: skip to the offset.
                skip = offset;
                break;
            default:
                throw Failure(r, what);
        }
        try
        {
            await using Stream body = await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            long skipped = await SkipAsync(body, skip, ct).ConfigureAwait(false);
            if (skipped < skip)
            {
                throw Short(name, offset, buffer.Length, offset - skip + skipped);
            }
            int total = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (total < buffer.Length)
            {
                throw Short(name, offset, buffer.Length, offset + total);
            }
        }
        catch (IOException e)
        {
            throw new TransientStoreException($"{what} at {Location}: {e.Message}", e);
        }
        catch (HttpRequestException e)
        {
            throw new TransientStoreException($"{what} at {Location}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TransientStoreException($"{what} at {Location}: no answer within {_http.Timeout.TotalSeconds:0.#} s", e);
        }
    }

    /// <summary>Reads and drops up to <paramref name="count"/> bytes; returns how many there were.</summary>
    private static async Task<long> SkipAsync(Stream body, long count, CancellationToken ct)
    {
        if (count == 0)
        {
            return 0;
        }
        byte[] scratch = new byte[(int)Math.Min(count, 1 << 16)];
        long left = count;
        while (left > 0)
        {
            int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(left, scratch.Length)), ct).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            left -= n;
        }
        return count - left;
    }

    private PermanentStoreException Short(ObjectName name, long offset, int length, long? end) =>
        new($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + length}{(end is { } e ? $", it ends at {e}" : "")}");

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        string path = PathOf(name);
        string temp = TempFolder + "/" + Guid.NewGuid().ToString("N");
        long start = content.CanSeek ? content.Position : 0;
        bool placed = false;
        await EnsureFolderAsync(TempFolder, ct).ConfigureAwait(false);
        try
        {
            await PutAsync(name, temp, content, start, ct).ConfigureAwait(false);
            await EnsureFolderAsync(FolderOf(path), ct).ConfigureAwait(false);
            HttpStatusCode moved = await MoveAsync(name, temp, path, ct).ConfigureAwait(false);
            if (moved == HttpStatusCode.Conflict)
            {
                // The destination folder went away since this process created it: create it again, once.
                _folders.TryRemove(FolderOf(path), out _);
                await EnsureFolderAsync(FolderOf(path), ct).ConfigureAwait(false);
                moved = await MoveAsync(name, temp, path, ct).ConfigureAwait(false);
            }
            if (moved != HttpStatusCode.PreconditionFailed)
            {
                placed = true;
                return;
            }
            // The name exists: identical bytes make this a retry (success); anything else is refused.
            if (!await SameBytesAsync(name, content, start, ct).ConfigureAwait(false))
            {
                throw new ObjectExistsException(Location, name);
            }
        }
        finally
        {
            if (!placed)
            {
                await TryDeleteAsync(temp).ConfigureAwait(false);
            }
        }
    }

    private async Task PutAsync(ObjectName name, string temp, Stream content, long start, CancellationToken ct)
    {
        string what = $"write {name.Path}";
        for (int attempt = 1; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, UriOf(temp));
            // The temp name is fresh; If-None-Match: * makes a server that honours it refuse rather than overwrite anything.
            request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Any);
            var body = new StreamContent(new NonClosingStream(content), 1 << 20);
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            if (content.CanSeek)
            {
                body.Headers.ContentLength = content.Length - content.Position;
            }
            request.Content = body;
            using HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false);
            if (r.IsSuccessStatusCode)
            {
                return;
            }
            if (r.StatusCode == HttpStatusCode.Conflict && attempt == 1 && content.CanSeek)
            {
                // tmp/ went away since this process created it.
                _folders.TryRemove(TempFolder, out _);
                await EnsureFolderAsync(TempFolder, ct).ConfigureAwait(false);
                content.Position = start;
                continue;
            }
            throw Failure(r, what);
        }
    }

    /// <summary>MOVE with Overwrite: F. Returns Created/NoContent on success, PreconditionFailed when the name exists, Conflict when its folder is missing.</summary>
    private async Task<HttpStatusCode> MoveAsync(ObjectName name, string temp, string path, CancellationToken ct)
    {
        string what = $"write {name.Path}";
        using var request = new HttpRequestMessage(Move, UriOf(temp));
        request.Headers.Add("Destination", UriOf(path).AbsoluteUri);
        request.Headers.Add("Overwrite", "F");
        using HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false);
        return r.IsSuccessStatusCode || r.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict
            ? r.StatusCode
            : throw Failure(r, what);
    }

    /// <summary>Whether the stored object holds exactly the bytes of <paramref name="content"/> from <paramref name="start"/>.</summary>
    private async Task<bool> SameBytesAsync(ObjectName name, Stream content, long start, CancellationToken ct)
    {
        if (!content.CanSeek)
        {
            return false;
        }
        ObjectInfo? existing = await StatAsync(name, ct).ConfigureAwait(false);
        if (existing is null)
        {
            // 412 but nothing there: a lock or a server that refuses MOVE with Overwrite: F. Worth another try.
            throw new TransientStoreException($"write {name.Path} at {Location}: the server refused to move the new object into place (HTTP 412) but no object is there");
        }
        long length = content.Length - start;
        if (existing.Length != length)
        {
            return false;
        }
        content.Position = start;
        const int chunk = 4 << 20;
        byte[] theirs = new byte[(int)Math.Min(chunk, Math.Max(length, 1))];
        byte[] ours = new byte[theirs.Length];
        for (long offset = 0; offset < length; offset += theirs.Length)
        {
            int n = (int)Math.Min(theirs.Length, length - offset);
            await ReadAsync(name, offset, theirs.AsMemory(0, n), ct).ConfigureAwait(false);
            await content.ReadExactlyAsync(ours.AsMemory(0, n), ct).ConfigureAwait(false);
            if (!theirs.AsSpan(0, n).SequenceEqual(ours.AsSpan(0, n)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Best-effort removal of a temp object; a leftover under tmp/ is harmless (nothing lists it).</summary>
    private async Task TryDeleteAsync(string relative)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var request = new HttpRequestMessage(HttpMethod.Delete, UriOf(relative));
            using HttpResponseMessage r = await _http.SendAsync(request, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
        }
    }

    public async Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        string what = $"delete {name.Path}";
        using var request = new HttpRequestMessage(HttpMethod.Delete, UriOf(PathOf(name)));
        using HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode && r.StatusCode != HttpStatusCode.NotFound)
        {
            throw Failure(r, what);
        }
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
        string folder = ObjectKinds.Folder(kind);
        List<DavEntry> entries = await ListFolderAsync(folder, ct).ConfigureAwait(false);
        foreach (DavEntry e in entries)
        {
            if (e.IsCollection && kind == ObjectKind.Data && IsSubfolderName(e.Name))
            {
                foreach (DavEntry inner in await ListFolderAsync(folder + "/" + e.Name, ct).ConfigureAwait(false))
                {
                    if (AsObject(kind, inner) is { } o)
                    {
                        yield return o;
                    }
                }
            }
            else if (AsObject(kind, e) is { } o)
            {
                yield return o;
            }
        }
    }

    private static bool IsSubfolderName(string name) => name.Length == 2 && ObjectName.IsValidName(ObjectKind.Data, name);

    private static ObjectInfo? AsObject(ObjectKind kind, DavEntry e) =>
        !e.IsCollection && e.Length is { } length && ObjectName.IsValidName(kind, e.Name)
            ? new ObjectInfo(new ObjectName(kind, e.Name), length, e.LastModified, StorageClass)
            : null;

    /// <summary>The entries directly inside a folder (not the folder itself); empty when the folder does not exist.</summary>
    private async Task<List<DavEntry>> ListFolderAsync(string relative, CancellationToken ct)
    {
        string self = DavMultistatus.PathOf(UriOf(relative + "/").AbsolutePath).TrimEnd('/');
        List<DavEntry>? entries = await PropfindAsync(UriOf(relative + "/"), 1, $"list {relative}/", ct).ConfigureAwait(false);
        return entries is null ? [] : entries.Where(e => e.Path.TrimEnd('/') != self).ToList();
    }

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct) => Task.FromResult(new ThawStatus(ThawState.Readable));

    public Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct) => Task.CompletedTask;

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
