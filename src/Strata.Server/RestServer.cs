using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Strata.Stores;

namespace Strata.Server;

/// <summary>
/// The repository server: restic's REST backend protocol (v1 and v2 listings) over Kestrel, one or more repositories
/// under path prefixes, each an <see cref="IStore"/>. Objects are create-only: a POST of an existing name with the same
/// bytes succeeds, with other bytes it is refused (403, header X-Strata-Error: object-exists) and the object is unchanged.
/// Strata's own additions: the kinds catalogs, tree, thaws and deletions, and thaws (GET/POST ?thaw on a cold object).
/// A minimal-API-free request delegate keeps it trimmable and AOT-clean.
/// </summary>
public sealed class RestServer : IAsyncDisposable
{
    public const string V2ContentType = "application/vnd.x.restic.rest.v2";
    public const string V1ContentType = "application/vnd.x.restic.rest.v1";
    public const string ErrorHeader = "X-Strata-Error";
    public const string ThawHeader = "X-Strata-Thaw";
    private const int ChunkSize = 1 << 20;

    private readonly ServerOptions _options;
    private readonly WebApplication _app;
    private readonly ServerMetrics _metrics = new();
    private readonly ConcurrentDictionary<(string Repo, string Lock), string> _lockOwners = new();
    private readonly Lock _logLock = new();
    private readonly ServedRepository[] _byLongestPrefix;

    public RestServer(ServerOptions options)
    {
        options.Validate();
        _options = options;
        _byLongestPrefix = options.Repositories.OrderByDescending(r => r.Segments.Length).ToArray();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "strata-server" });
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        X509Certificate2? cert = null;
        if (options.UsesTls)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            try
            {
                cert = X509Certificate2.CreateFromPemFile(options.TlsCertFile!, options.TlsKeyFile);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new Repository.UserInputException($"cannot load the TLS certificate {options.TlsCertFile} with key {options.TlsKeyFile}: {e.Message}");
            }
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            k.Limits.MinRequestBodyDataRate = new MinDataRate(options.MinBodyBytesPerSecond, options.MinDataRateGrace);
            k.Limits.MinResponseDataRate = new MinDataRate(options.MinBodyBytesPerSecond, options.MinDataRateGrace);
            foreach (string l in options.Listen)
            {
                k.Listen(ServerOptions.ParseListen(l), lo =>
                {
                    if (cert is not null)
                    {
                        lo.UseHttps(cert);
                    }
                });
            }
        });
        _app = builder.Build();
        _app.Run(HandleAsync);
    }

    /// <summary>The addresses bound, with real ports (after <see cref="StartAsync"/>).</summary>
    public IReadOnlyList<Uri> Addresses =>
        _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();

    public Task StartAsync(CancellationToken ct) => _app.StartAsync(ct);

    /// <summary>Stops accepting, waits up to <see cref="ServerOptions.ShutdownTimeout"/> for requests in flight, then aborts the rest.</summary>
    public Task StopAsync(CancellationToken ct) => _app.StopAsync(ct);

    /// <summary>Runs until SIGTERM / Ctrl+C or <paramref name="ct"/>, then shuts down gracefully.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await _app.StartAsync(ct).ConfigureAwait(false);
        await _app.WaitForShutdownAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync().ConfigureAwait(false);

    // ------------------------------------------------------------------ requests

    private sealed class RequestState
    {
        public string Repo = "-";
        public string User = "-";
        public long BytesIn;
        public long BytesOut;
        public string? Error;
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        long start = Stopwatch.GetTimestamp();
        var state = new RequestState();
        try
        {
            await DispatchAsync(ctx, state).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            // Kestrel's own refusals: a body over the limit (413), shorter than its Content-Length, or too slow.
            state.Error = e.Message;
            await FailAsync(ctx, e.StatusCode, e.StatusCode == 413 ? "request body too large" : "bad request body").ConfigureAwait(false);
        }
        catch (Exception e) when (ctx.RequestAborted.IsCancellationRequested)
        {
            state.Error = "aborted: " + e.Message;
            ctx.Abort();
        }
        catch (Exception e)
        {
            state.Error = $"{e.GetType().Name}: {e.Message}";
            await FailAsync(ctx, 500, "internal error").ConfigureAwait(false);
        }
        finally
        {
            int status = ctx.RequestAborted.IsCancellationRequested && state.Error is not null ? 499 : ctx.Response.StatusCode;
            _metrics.Record(state.Repo, ctx.Request.Method, status, state.BytesIn, state.BytesOut);
            Log(ctx, state, status, Stopwatch.GetElapsedTime(start));
        }
    }

    private static async Task FailAsync(HttpContext ctx, int status, string message)
    {
        if (ctx.Response.HasStarted)
        {
            ctx.Abort();
            return;
        }
        // Not Response.Clear(): that would drop the headers that explain the error (X-Strata-Error, WWW-Authenticate, Content-Range).
        ctx.Response.ContentLength = null;
        ctx.Response.StatusCode = status;
        if (status != 401 && message.Length > 0)
        {
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            try
            {
                await ctx.Response.WriteAsync(message + "\n").ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
            {
                ctx.Abort();
            }
        }
    }

    private async Task DispatchAsync(HttpContext ctx, RequestState state)
    {
        string raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "/";
        string[]? segments = RequestPath.Parse(raw);
        if (segments is null)
        {
            state.Error = "refused path";
            await FailAsync(ctx, 400, "invalid path").ConfigureAwait(false);
            return;
        }
        if (segments is ["metrics"])
        {
            await MetricsAsync(ctx, state).ConfigureAwait(false);
            return;
        }
        ServedRepository? repo = Match(segments, out string[] rest);
        if (repo is null)
        {
            await FailAsync(ctx, 404, "no repository here").ConfigureAwait(false);
            return;
        }
        state.Repo = repo.Label;
        Role? role = await AuthorizeAsync(ctx, repo, state).ConfigureAwait(false);
        if (role is not { } r)
        {
            return;
        }
        string method = ctx.Request.Method;
        if (rest.Length == 0 || rest is [""])
        {
            if (HttpMethods.IsPost(method) && ctx.Request.Query["create"] == "true")
            {
                if (repo.Store.Find<LocalStore>() is { } local)
                {
                    Directory.CreateDirectory(local.Root);
                }
                ctx.Response.StatusCode = 200;
                return;
            }
            ctx.Response.Headers.Allow = "POST";
            await FailAsync(ctx, 405, "only POST /?create=true is allowed here").ConfigureAwait(false);
            return;
        }
        if (rest is ["config"])
        {
            await ObjectAsync(ctx, state, repo, r, ObjectName.Config).ConfigureAwait(false);
            return;
        }
        ObjectKind? kind = ObjectKinds.FromFolder(rest[0]);
        if (kind is not { } k || k == ObjectKind.Config)
        {
            await FailAsync(ctx, 404, "no such object type").ConfigureAwait(false);
            return;
        }
        if (rest.Length == 1 || rest is [_, ""])
        {
            if (!HttpMethods.IsGet(method))
            {
                ctx.Response.Headers.Allow = "GET";
                await FailAsync(ctx, 405, "listings take GET").ConfigureAwait(false);
                return;
            }
            await ListAsync(ctx, state, repo, k).ConfigureAwait(false);
            return;
        }
        if (rest.Length != 2 || !ObjectName.IsValidName(k, rest[1]))
        {
            state.Error = "invalid object name";
            await FailAsync(ctx, 400, "invalid object name: names are lower-case hex ids").ConfigureAwait(false);
            return;
        }
        await ObjectAsync(ctx, state, repo, r, new ObjectName(k, rest[1])).ConfigureAwait(false);
    }

    private ServedRepository? Match(string[] segments, out string[] rest)
    {
        foreach (ServedRepository r in _byLongestPrefix)
        {
            if (segments.Length >= r.Segments.Length && segments.AsSpan(0, r.Segments.Length).SequenceEqual(r.Segments))
            {
                rest = segments[r.Segments.Length..];
                return r;
            }
        }
        rest = [];
        return null;
    }

    /// <summary>The caller's role in <paramref name="repo"/>; null after answering 401 (no detail) or 403.</summary>
    private async Task<Role?> AuthorizeAsync(HttpContext ctx, ServedRepository? repo, RequestState state)
    {
        if (_options.NoAuth)
        {
            return _options.AppendOnly ? Role.Reader : Role.Admin;
        }
        ServerUser? user = Authenticate(ctx);
        if (user is null)
        {
            state.Error = "authentication failed";
            ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"strata\", charset=\"UTF-8\"";
            await FailAsync(ctx, 401, "").ConfigureAwait(false);
            return null;
        }
        state.User = user.Name;
        if (repo is null)
        {
            return user.Roles.Count > 0 ? user.Roles.Values.Max() : null;
        }
        Role? role = user.RoleFor(repo.Prefix);
        if (role is null)
        {
            state.Error = "no role in this repository";
            await FailAsync(ctx, 403, "forbidden").ConfigureAwait(false);
        }
        return role;
    }

    private ServerUser? Authenticate(HttpContext ctx)
    {
        string? header = ctx.Request.Headers.Authorization;
        if (header is null || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        int colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon <= 0 ? null : _options.Users!.Authenticate(decoded[..colon], decoded[(colon + 1)..]);
    }

    private async Task<bool> CheckAsync(HttpContext ctx, RequestState state, Role role, Operation op, ObjectKind? kind, bool ownLock = false)
    {
        if (Access.Allows(role, op, kind, ownLock))
        {
            return true;
        }
        state.Error = $"{role} may not {op}";
        await FailAsync(ctx, 403, "forbidden").ConfigureAwait(false);
        return false;
    }

    private async Task ObjectAsync(HttpContext ctx, RequestState state, ServedRepository repo, Role role, ObjectName name)
    {
        string method = ctx.Request.Method;
        CancellationToken ct = ctx.RequestAborted;
        bool thaw = ctx.Request.Query.ContainsKey("thaw");
        if (HttpMethods.IsHead(method))
        {
            if (!await CheckAsync(ctx, state, role, Operation.Stat, name.Kind).ConfigureAwait(false))
            {
                return;
            }
            ObjectInfo? info = await repo.Store.StatAsync(name, ct).ConfigureAwait(false);
            ctx.Response.StatusCode = info is null ? 404 : 200;
            if (info is not null)
            {
                ctx.Response.ContentLength = info.Length;
            }
            return;
        }
        if (HttpMethods.IsGet(method) && thaw)
        {
            if (await CheckAsync(ctx, state, role, Operation.ThawStatus, name.Kind).ConfigureAwait(false))
            {
                await ThawStatusAsync(ctx, repo, name).ConfigureAwait(false);
            }
            return;
        }
        if (HttpMethods.IsGet(method))
        {
            if (await CheckAsync(ctx, state, role, Operation.Read, name.Kind).ConfigureAwait(false))
            {
                await ReadAsync(ctx, state, repo, name).ConfigureAwait(false);
            }
            return;
        }
        if (HttpMethods.IsPost(method) && thaw)
        {
            if (await CheckAsync(ctx, state, role, Operation.ThawRequest, name.Kind).ConfigureAwait(false))
            {
                await ThawRequestAsync(ctx, repo, name).ConfigureAwait(false);
            }
            return;
        }
        if (HttpMethods.IsPost(method) || HttpMethods.IsPut(method))
        {
            if (await CheckAsync(ctx, state, role, Operation.Write, name.Kind).ConfigureAwait(false))
            {
                await WriteAsync(ctx, state, repo, name).ConfigureAwait(false);
            }
            return;
        }
        if (HttpMethods.IsDelete(method))
        {
            bool own = name.Kind == ObjectKind.Locks && _lockOwners.TryGetValue((repo.Label, name.Name), out string? owner) && owner == state.User;
            if (await CheckAsync(ctx, state, role, Operation.Delete, name.Kind, own).ConfigureAwait(false))
            {
                await repo.Store.DeleteAsync(name, ct).ConfigureAwait(false);
                _lockOwners.TryRemove((repo.Label, name.Name), out _);
                ctx.Response.StatusCode = 200;
            }
            return;
        }
        ctx.Response.Headers.Allow = "GET, HEAD, POST, DELETE";
        await FailAsync(ctx, 405, "method not allowed").ConfigureAwait(false);
    }

    private async Task ReadAsync(HttpContext ctx, RequestState state, ServedRepository repo, ObjectName name)
    {
        CancellationToken ct = ctx.RequestAborted;
        ObjectInfo? info = await repo.Store.StatAsync(name, ct).ConfigureAwait(false);
        if (info is null)
        {
            await FailAsync(ctx, 404, "not found").ConfigureAwait(false);
            return;
        }
        long length = info.Length;
        long from = 0, to = length - 1;
        bool partial = false;
        string? range = ctx.Request.Headers.Range;
        if (range is not null && TryParseRange(range, length, out long rf, out long rt, out bool satisfiable))
        {
            if (!satisfiable)
            {
                ctx.Response.Headers.ContentRange = $"bytes */{length}";
                await FailAsync(ctx, 416, "range not satisfiable").ConfigureAwait(false);
                return;
            }
            (from, to, partial) = (rf, rt, true);
        }
        long count = to - from + 1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(ChunkSize, Math.Max(count, 1)));
        try
        {
            int first = (int)Math.Min(buffer.Length, count);
            try
            {
                // The first chunk is read before the status is sent, so a frozen or vanished object gets its own answer.
                await repo.Store.ReadAsync(name, from, buffer.AsMemory(0, first), ct).ConfigureAwait(false);
            }
            catch (ObjectNotFoundException)
            {
                await FailAsync(ctx, 404, "not found").ConfigureAwait(false);
                return;
            }
            catch (ObjectFrozenException e)
            {
                state.Error = e.Message;
                ctx.Response.Headers[ThawHeader] = e.Status.State.ToString().ToLowerInvariant();
                await FailAsync(ctx, 409, "the object is in cold storage and not thawed").ConfigureAwait(false);
                return;
            }
            ctx.Response.StatusCode = partial ? 206 : 200;
            ctx.Response.ContentLength = count;
            ctx.Response.ContentType = "application/octet-stream";
            ctx.Response.Headers.AcceptRanges = "bytes";
            if (partial)
            {
                ctx.Response.Headers.ContentRange = $"bytes {from}-{to}/{length}";
            }
            long done = 0;
            int n = first;
            while (true)
            {
                await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                done += n;
                state.BytesOut += n;
                if (done >= count)
                {
                    break;
                }
                n = (int)Math.Min(buffer.Length, count - done);
                await repo.Store.ReadAsync(name, from + done, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>One range of "bytes=a-b", "bytes=a-" or "bytes=-n". False when the header is not one such range (then it is ignored, as RFC 9110 allows).</summary>
    internal static bool TryParseRange(string header, long length, out long from, out long to, out bool satisfiable)
    {
        from = to = 0;
        satisfiable = false;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }
        string spec = header[6..].Trim();
        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return false;
        }
        string a = spec[..dash], b = spec[(dash + 1)..];
        var inv = CultureInfo.InvariantCulture;
        if (a.Length == 0)
        {
            if (!long.TryParse(b, NumberStyles.None, inv, out long suffix))
            {
                return false;
            }
            satisfiable = suffix > 0 && length > 0;
            from = Math.Max(0, length - suffix);
            to = length - 1;
            return true;
        }
        if (!long.TryParse(a, NumberStyles.None, inv, out from))
        {
            return false;
        }
        if (b.Length == 0)
        {
            to = length - 1;
        }
        else if (!long.TryParse(b, NumberStyles.None, inv, out to) || to < from)
        {
            return false;
        }
        to = Math.Min(to, length - 1);
        satisfiable = from < length;
        return true;
    }

    private async Task WriteAsync(HttpContext ctx, RequestState state, ServedRepository repo, ObjectName name)
    {
        CancellationToken ct = ctx.RequestAborted;
        long? declared = ctx.Request.ContentLength;
        if (declared > _options.MaxBodyBytes)
        {
            state.Error = $"body of {declared} bytes is over the limit of {_options.MaxBodyBytes}";
            await FailAsync(ctx, 413, "request body too large").ConfigureAwait(false);
            return;
        }
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _options.MaxBodyBytes;
        }
        _metrics.UploadStarted();
        string? spool = null;
        try
        {
            var body = new CountingStream(ctx.Request.Body, n => state.BytesIn += n);
            Stream content = body;
            if (repo.Store.Find<LocalStore>() is null)
            {
                // Other stores may retry a write and need a seekable stream: spool the body to a temporary file first.
                spool = Path.Combine(Path.GetTempPath(), "strata-upload-" + Guid.NewGuid().ToString("N"));
                var fs = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
                await body.CopyToAsync(fs, ChunkSize, ct).ConfigureAwait(false);
                fs.Position = 0;
                content = fs;
            }
            await using (content.ConfigureAwait(false))
            {
                await repo.Store.WriteAsync(name, content, ct).ConfigureAwait(false);
            }
            if (name.Kind == ObjectKind.Locks)
            {
                _lockOwners.TryAdd((repo.Label, name.Name), state.User);
            }
            ctx.Response.StatusCode = 200;
        }
        catch (ObjectExistsException)
        {
            state.Error = "exists with different content";
            ctx.Response.Headers[ErrorHeader] = "object-exists";
            await FailAsync(ctx, 403, "the object exists with different content; objects are never overwritten").ConfigureAwait(false);
        }
        catch (PermanentStoreException e) when (e.Message.Contains("disk is full", StringComparison.Ordinal))
        {
            state.Error = e.Message;
            await FailAsync(ctx, 507, "insufficient storage").ConfigureAwait(false);
        }
        catch (TransientStoreException e)
        {
            state.Error = e.Message;
            await FailAsync(ctx, 503, "the store is unavailable; retry").ConfigureAwait(false);
        }
        finally
        {
            _metrics.UploadEnded();
            if (spool is not null)
            {
                try
                {
                    File.Delete(spool);
                }
                catch (IOException)
                {
                }
            }
        }
    }

    private async Task ListAsync(HttpContext ctx, RequestState state, ServedRepository repo, ObjectKind kind)
    {
        string accept = ctx.Request.Headers.Accept.ToString();
        bool v2 = accept.Contains(V2ContentType, StringComparison.OrdinalIgnoreCase);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = v2 ? V2ContentType : V1ContentType;
        var output = new CountingStream(ctx.Response.Body, n => state.BytesOut += n);
        await using var json = new Utf8JsonWriter(output);
        json.WriteStartArray();
        int n = 0;
        await foreach (ObjectInfo o in repo.Store.ListAsync(kind, ctx.RequestAborted).ConfigureAwait(false))
        {
            if (v2)
            {
                json.WriteStartObject();
                json.WriteString("name", o.Name.Name);
                json.WriteNumber("size", o.Length);
                json.WriteEndObject();
            }
            else
            {
                json.WriteStringValue(o.Name.Name);
            }
            if (++n % 1000 == 0)
            {
                await json.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        json.WriteEndArray();
        await json.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task ThawStatusAsync(HttpContext ctx, ServedRepository repo, ObjectName name)
    {
        ThawStatus s;
        try
        {
            s = await repo.Store.GetThawStatusAsync(name, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (ObjectNotFoundException)
        {
            await FailAsync(ctx, 404, "not found").ConfigureAwait(false);
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(ctx.Response.Body);
        json.WriteStartObject();
        json.WriteString("state", s.State.ToString().ToLowerInvariant());
        if (s.ReadyAt is { } r)
        {
            json.WriteString("ready_at", r);
        }
        if (s.ExpiresAt is { } x)
        {
            json.WriteString("expires_at", x);
        }
        json.WriteEndObject();
        await json.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
    }

    private static async Task ThawRequestAsync(HttpContext ctx, ServedRepository repo, ObjectName name)
    {
        string tier = ctx.Request.Query["tier"].ToString();
        string days = ctx.Request.Query["days"].ToString();
        if (!Enum.TryParse(tier, ignoreCase: true, out ThawTier t) || !int.TryParse(days, NumberStyles.None, CultureInfo.InvariantCulture, out int d) || d is < 1 or > 365)
        {
            await FailAsync(ctx, 400, "give ?thaw&tier=bulk|standard|expedited&days=N").ConfigureAwait(false);
            return;
        }
        try
        {
            await repo.Store.RequestThawAsync(name, new ThawRequest(t, d), ctx.RequestAborted).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }
        catch (ObjectNotFoundException)
        {
            await FailAsync(ctx, 404, "not found").ConfigureAwait(false);
        }
    }

    private async Task MetricsAsync(HttpContext ctx, RequestState state)
    {
        if (!HttpMethods.IsGet(ctx.Request.Method))
        {
            await FailAsync(ctx, 405, "metrics take GET").ConfigureAwait(false);
            return;
        }
        if (await AuthorizeAsync(ctx, null, state).ConfigureAwait(false) is null)
        {
            return;
        }
        string text = await _metrics.RenderAsync(_options.Repositories, ctx.RequestAborted).ConfigureAwait(false) + _options.ExtraMetrics?.Invoke();
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await ctx.Response.WriteAsync(text, ctx.RequestAborted).ConfigureAwait(false);
    }

    // ------------------------------------------------------------------ request log

    private void Log(HttpContext ctx, RequestState state, int status, TimeSpan elapsed)
    {
        TextWriter? log = _options.RequestLog;
        if (log is null)
        {
            return;
        }
        string raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("remote", ctx.Connection.RemoteIpAddress?.ToString());
            json.WriteString("user", state.User);
            json.WriteString("repo", state.Repo);
            json.WriteString("method", ctx.Request.Method);
            json.WriteString("path", raw.Length > 300 ? raw[..300] : raw);
            json.WriteNumber("status", status);
            json.WriteNumber("bytes_in", state.BytesIn);
            json.WriteNumber("bytes_out", state.BytesOut);
            json.WriteNumber("ms", Math.Round(elapsed.TotalMilliseconds, 1));
            if (state.Error is not null)
            {
                json.WriteString("error", state.Error);
            }
            json.WriteEndObject();
        }
        string line = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        lock (_logLock)
        {
            log.WriteLine(line);
            log.Flush();
        }
    }
}

/// <summary>Passes reads and writes through and reports how many bytes went by. Never disposes the inner stream.</summary>
internal sealed class CountingStream(Stream inner, Action<long> onBytes) : Stream
{
    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = inner.Read(buffer, offset, count);
        onBytes(n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        onBytes(n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        onBytes(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        onBytes(buffer.Length);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
