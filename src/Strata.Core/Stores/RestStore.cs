using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Strata.Stores;

/// <summary>
/// A repository on a Strata server (or any restic REST server): <c>rest:http(s)://[user:pass@]host:port/[path]</c>.
/// Speaks restic's REST protocol v2 (HEAD/GET with Range/POST/DELETE on /{kind}/{name}, v2 JSON listings) plus
/// Strata's thaw calls (?thaw). Create-only: the server refuses an existing name with other bytes (403 with
/// X-Strata-Error: object-exists, which becomes <see cref="ObjectExistsException"/>). Status codes are classified
/// here: 5xx, 408, 429 and network failures are transient; 401, 403, 413, 507 permanent.
/// </summary>
public sealed class RestStore : IStore
{
    private const string V2 = "application/vnd.x.restic.rest.v2";
    private readonly HttpClient _http;
    private readonly Uri _base;

    public RestStore(Uri baseUri, string? user = null, string? password = null, HttpMessageHandler? handler = null)
    {
        if (baseUri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"a rest: repository needs http:// or https://, not {baseUri.Scheme}://");
        }
        _base = new Uri(baseUri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
        Location = "rest:" + _base;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 16,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (user is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + (password ?? ""))));
        }
    }

    /// <summary>Parses <c>rest:http(s)://[user:pass@]host:port/[path]</c>; user and password may be percent-encoded.</summary>
    public static RestStore Open(string location)
    {
        string url = location.StartsWith("rest:", StringComparison.Ordinal) ? location["rest:".Length..] : location;
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException("expected rest:http://host:port/path or rest:https://user:password@host:port/path");
        }
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? Environment.GetEnvironmentVariable("STRATA_REST_PASSWORD") : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        var clean = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
        return new RestStore(clean, user, password);
    }

    /// <summary>The server's URL without credentials.</summary>
    public string Location { get; }

    public StoreProperties Properties { get; } = new(Connections: 8, HasColdTier: false, PriceProvider: "local");

    private Uri UriOf(ObjectName name, string? query = null) => new(_base, name.Path + (query is null ? "" : "?" + query));

    private Uri UriOf(ObjectKind kind) => new(_base, ObjectKinds.Folder(kind) + "/");

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead)
    {
        try
        {
            return await _http.SendAsync(request, completion, ct).ConfigureAwait(false);
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
            throw new TransientStoreException($"{what} at {Location}: timed out", e);
        }
    }

    /// <summary>Turns an unexpected status into the store error it means.</summary>
    private StoreException Failure(HttpResponseMessage r, string what)
    {
        int code = (int)r.StatusCode;
        string message = $"{what} at {Location}: HTTP {code} {r.ReasonPhrase}";
        return code switch
        {
            401 => new PermanentStoreException($"{what} at {Location}: the server refused the login (HTTP 401): check the user and password in the URL"),
            403 => new PermanentStoreException($"{what} at {Location}: this login may not do that (HTTP 403)"),
            413 => new PermanentStoreException($"{what} at {Location}: the object is larger than the server accepts (HTTP 413)"),
            507 => new PermanentStoreException($"{what} at {Location}: the server's disk is full (HTTP 507)"),
            408 or 429 or >= 500 => new TransientStoreException(message),
            _ => new PermanentStoreException(message),
        };
    }

    public async Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, UriOf(name));
        using HttpResponseMessage r = await SendAsync(request, $"stat {name.Path}", ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        if (!r.IsSuccessStatusCode)
        {
            throw Failure(r, $"stat {name.Path}");
        }
        long length = r.Content.Headers.ContentLength ?? throw new PermanentStoreException($"stat {name.Path} at {Location}: the server sent no length");
        return new ObjectInfo(name, length, r.Content.Headers.LastModified, "rest");
    }

    public async Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        if (buffer.Length == 0)
        {
            ObjectInfo info = await StatAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
            if (offset > info.Length)
            {
                throw Short(name, offset, buffer.Length, info.Length);
            }
            return;
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, UriOf(name));
        request.Headers.Range = new RangeHeaderValue(offset, offset + buffer.Length - 1);
        using HttpResponseMessage r = await SendAsync(request, $"read {name.Path}", ct, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        switch (r.StatusCode)
        {
            case HttpStatusCode.NotFound:
                throw new ObjectNotFoundException(Location, name);
            case HttpStatusCode.RequestedRangeNotSatisfiable:
                throw Short(name, offset, buffer.Length, r.Content.Headers.ContentRange?.Length);
            case HttpStatusCode.Conflict when r.Headers.TryGetValues("X-Strata-Thaw", out var states):
                ThawState state = Enum.TryParse(states.First(), ignoreCase: true, out ThawState s) ? s : ThawState.Frozen;
                throw new ObjectFrozenException(Location, name, "cold", new ThawStatus(state));
            case HttpStatusCode.PartialContent:
                break;
            case HttpStatusCode.OK:
                // A server that ignores Range sends everything: skip to the offset.
                break;
            default:
                throw Failure(r, $"read {name.Path}");
        }
        try
        {
            await using Stream body = await r.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            if (r.StatusCode == HttpStatusCode.OK && offset > 0)
            {
                byte[] skip = new byte[Math.Min(offset, 1 << 16)];
                long left = offset;
                while (left > 0)
                {
                    int n = await body.ReadAsync(skip.AsMemory(0, (int)Math.Min(left, skip.Length)), ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        throw Short(name, offset, buffer.Length, offset - left);
                    }
                    left -= n;
                }
            }
            int total = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (total < buffer.Length)
            {
                throw Short(name, offset, buffer.Length, offset + total);
            }
        }
        catch (IOException e)
        {
            throw new TransientStoreException($"read {name.Path} at {Location}: {e.Message}", e);
        }
        catch (HttpRequestException e)
        {
            throw new TransientStoreException($"read {name.Path} at {Location}: {e.Message}", e);
        }
    }

    private PermanentStoreException Short(ObjectName name, long offset, int length, long? end) =>
        new($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + length}{(end is { } e ? $", it ends at {e}" : "")}");

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, UriOf(name));
        var body = new StreamContent(new NonClosingStream(content), 1 << 20);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (content.CanSeek)
        {
            body.Headers.ContentLength = content.Length - content.Position;
        }
        request.Content = body;
        using HttpResponseMessage r = await SendAsync(request, $"write {name.Path}", ct).ConfigureAwait(false);
        if (r.IsSuccessStatusCode)
        {
            return;
        }
        if (r.StatusCode == HttpStatusCode.Forbidden && r.Headers.TryGetValues("X-Strata-Error", out var errors) && errors.Contains("object-exists"))
        {
            throw new ObjectExistsException(Location, name);
        }
        throw Failure(r, $"write {name.Path}");
    }

    public async Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, UriOf(name));
        using HttpResponseMessage r = await SendAsync(request, $"delete {name.Path}", ct).ConfigureAwait(false);
        if (!r.IsSuccessStatusCode && r.StatusCode != HttpStatusCode.NotFound)
        {
            throw Failure(r, $"delete {name.Path}");
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
        using var request = new HttpRequestMessage(HttpMethod.Get, UriOf(kind));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(V2));
        string what = $"list {ObjectKinds.Folder(kind)}/";
        using HttpResponseMessage r = await SendAsync(request, what, ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            yield break;
        }
        if (!r.IsSuccessStatusCode)
        {
            throw Failure(r, what);
        }
        byte[] bytes = await r.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        bool v2 = r.Content.Headers.ContentType?.MediaType == V2;
        foreach (ObjectInfo o in ParseListing(bytes, kind, v2, what))
        {
            yield return o;
        }
    }

    private List<ObjectInfo> ParseListing(byte[] bytes, ObjectKind kind, bool v2, string what)
    {
        var list = new List<ObjectInfo>();
        try
        {
            using JsonDocument doc = JsonDocument.Parse(bytes);
            foreach (JsonElement e in doc.RootElement.EnumerateArray())
            {
                string? n = v2 ? e.GetProperty("name").GetString() : e.GetString();
                long size = v2 ? e.GetProperty("size").GetInt64() : -1;
                if (n is not null && ObjectName.IsValidName(kind, n))
                {
                    list.Add(new ObjectInfo(new ObjectName(kind, n), size, null, "rest"));
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new PermanentStoreException($"{what} at {Location}: the server's answer is not a listing: {e.Message}", e);
        }
        return list;
    }

    public async Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct)
    {
        if (name.Tier == Tier.Warm)
        {
            return new ThawStatus(ThawState.Readable);
        }
        using var request = new HttpRequestMessage(HttpMethod.Get, UriOf(name, "thaw"));
        using HttpResponseMessage r = await SendAsync(request, $"thaw status of {name.Path}", ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        if (!r.IsSuccessStatusCode)
        {
            // A plain restic REST server has no cold tier: everything is readable.
            return r.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed ? new ThawStatus(ThawState.Readable) : throw Failure(r, $"thaw status of {name.Path}");
        }
        try
        {
            using JsonDocument doc = JsonDocument.Parse(await r.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false));
            JsonElement root = doc.RootElement;
            ThawState state = Enum.Parse<ThawState>(root.GetProperty("state").GetString()!, ignoreCase: true);
            DateTimeOffset? ready = root.TryGetProperty("ready_at", out JsonElement re) ? re.GetDateTimeOffset() : null;
            DateTimeOffset? expires = root.TryGetProperty("expires_at", out JsonElement ex) ? ex.GetDateTimeOffset() : null;
            return new ThawStatus(state, ready, expires);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
        {
            // Not a Strata server (a restic rest-server sends the object itself): nothing is cold there.
            return new ThawStatus(ThawState.Readable);
        }
    }

    public async Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct)
    {
        if (name.Tier == Tier.Warm)
        {
            return;
        }
        string query = $"thaw&tier={request.Tier.ToString().ToLowerInvariant()}&days={request.Days}";
        using var message = new HttpRequestMessage(HttpMethod.Post, UriOf(name, query));
        using HttpResponseMessage r = await SendAsync(message, $"thaw {name.Path}", ct).ConfigureAwait(false);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        if (!r.IsSuccessStatusCode)
        {
            throw Failure(r, $"thaw {name.Path}");
        }
    }

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
