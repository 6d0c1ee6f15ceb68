using System.Net;
using System.Text;
using Amazon.Runtime;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// The real SDK against canned HTTP answers, for what radosgw cannot show: AWS's archive behaviour (x-amz-restore,
/// InvalidObjectState), throttling and server errors, dropped connections and timeouts. A fake, and only for that.
/// </summary>
public sealed class S3CannedAnswerTests
{
    private const string Endpoint = "http://127.0.0.1:9";
    private static readonly ObjectName Pack = new(ObjectKind.Data, "abcdef0123");
    private static readonly ObjectName Index = new(ObjectKind.Index, "0123abcdef");

    private readonly List<(HttpMethod Method, string Path, string Body)> _requests = [];

    private S3Store Open(Func<HttpRequestMessage, HttpResponseMessage> answer) =>
        new(S3StoreOptions.ForCompatibleServer(Endpoint, "bucket", "repo") with { SdkRetries = 0 },
            new BasicAWSCredentials("AKEXAMPLE", "SECRET-EXAMPLE"),
            new CannedFactory(request =>
            {
                string body = request.Content is null ? "" : request.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                lock (_requests)
                {
                    _requests.Add((request.Method, request.RequestUri!.AbsolutePath, body));
                }
                return answer(request);
            }));

    private static HttpResponseMessage Head(string storageClass, string? restore = null, long length = 4000)
    {
        var r = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        r.Content.Headers.ContentLength = length;
        r.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue("\"0123456789abcdef0123456789abcdef\"");
        r.Content.Headers.LastModified = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        r.Headers.Add("x-amz-storage-class", storageClass);
        if (restore is not null)
        {
            r.Headers.Add("x-amz-restore", restore);
        }
        return r;
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string code, string message = "canned")
    {
        var r = new HttpResponseMessage(status)
        {
            Content = new StringContent($"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>{message}</Message><RequestId>r1</RequestId></Error>", Encoding.UTF8, "application/xml"),
        };
        return r;
    }

    [Fact]
    public async Task ThawStatus_ComesFromTheRestoreHeader()
    {
        string? restore = null;
        string storageClass = "DEEP_ARCHIVE";
        await using S3Store store = Open(_ => Head(storageClass, restore));

        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(Pack, default)).State);

        restore = "ongoing-request=\"true\"";
        Assert.Equal(ThawState.Thawing, (await store.GetThawStatusAsync(Pack, default)).State);

        restore = "ongoing-request=\"false\", expiry-date=\"Fri, 04 Dec 2026 00:00:00 GMT\"";
        ThawStatus thawed = await store.GetThawStatusAsync(Pack, default);
        Assert.Equal(ThawState.Thawed, thawed.State);
        Assert.Equal(new DateTimeOffset(2026, 12, 4, 0, 0, 0, TimeSpan.Zero), thawed.ExpiresAt);

        restore = null;
        storageClass = "GLACIER_IR";
        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(Pack, default)).State);
        Assert.All(_requests, r => Assert.Equal("/bucket/repo/data/abcdef0123", r.Path));
    }

    [Fact]
    public async Task ReadingAnArchivedObject_ThrowsFrozenNamingObjectAndClass()
    {
        await using S3Store store = Open(r => r.Method == HttpMethod.Head
            ? Head("DEEP_ARCHIVE")
            : Error(HttpStatusCode.Forbidden, "InvalidObjectState", "The operation is not valid for the object's storage class"));
        var e = await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(Pack, 0, new byte[10], default));
        Assert.Equal(Pack, e.Name);
        Assert.Equal(ThawState.Frozen, e.Status.State);
        Assert.Contains("data/abcdef0123", e.Message, StringComparison.Ordinal);
        Assert.Contains("DEEP_ARCHIVE", e.Message, StringComparison.Ordinal);
        Assert.Contains("s3:http://127.0.0.1:9/bucket/repo", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadingWhileThawing_SaysSo()
    {
        await using S3Store store = Open(r => r.Method == HttpMethod.Head
            ? Head("GLACIER", "ongoing-request=\"true\"")
            : Error(HttpStatusCode.Forbidden, "InvalidObjectState"));
        var e = await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(Pack, 0, new byte[10], default));
        Assert.Equal(ThawState.Thawing, e.Status.State);
        Assert.Contains("still thawing", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable, "SlowDown")]
    [InlineData(HttpStatusCode.InternalServerError, "InternalError")]
    [InlineData(HttpStatusCode.BadGateway, "")]
    [InlineData(HttpStatusCode.RequestTimeout, "RequestTimeout")]
    public async Task ThrottlingAndServerErrors_AreTransient(HttpStatusCode status, string code)
    {
        await using S3Store store = Open(_ => Error(status, code));
        var e = await Assert.ThrowsAsync<TransientStoreException>(() => store.ReadAsync(Index, 0, new byte[10], default));
        Assert.Contains("index/0123abcdef", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TransientStoreException>(() => store.StatAsync(Index, default));
        await Assert.ThrowsAsync<TransientStoreException>(() => store.WriteAsync(Index, new MemoryStream([1, 2, 3]), default));
    }

    [Fact]
    public async Task ABare400WithoutAnErrorDocument_IsTransient()
    {
        await using S3Store store = Open(_ => new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new ByteArrayContent([]) });
        await Assert.ThrowsAsync<TransientStoreException>(() => store.ReadAsync(Index, 0, new byte[10], default));
    }

    [Fact]
    public async Task ARealBadRequest_IsPermanentAndSaysWhy()
    {
        await using S3Store store = Open(_ => Error(HttpStatusCode.BadRequest, "InvalidArgument", "Invalid Argument"));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(Index, 0, new byte[10], default));
        Assert.Contains("InvalidArgument (400)", e.Message, StringComparison.Ordinal);
        Assert.Contains("index/0123abcdef", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DroppedConnectionsAndTimeouts_AreTransient()
    {
        Exception failure = new HttpRequestException("Connection reset by peer", new IOException("reset"));
        await using S3Store store = Open(_ => throw failure);
        await Assert.ThrowsAsync<TransientStoreException>(() => store.ReadAsync(Index, 0, new byte[10], default));
        failure = new IOException("broken pipe");
        await Assert.ThrowsAsync<TransientStoreException>(() => store.WriteAsync(Index, new MemoryStream([1]), default));
        failure = new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout", new TimeoutException());
        var e = await Assert.ThrowsAsync<TransientStoreException>(() => store.StatAsync(Index, default));
        Assert.DoesNotContain("   at ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACancelledCaller_GetsCancellationNotAStoreError()
    {
        using var cts = new CancellationTokenSource();
        await using S3Store store = Open(_ =>
        {
            cts.Cancel();
            throw new TaskCanceledException();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.ReadAsync(Index, 0, new byte[10], cts.Token));
    }

    [Fact]
    public async Task AccessDenied_IsPermanentWithTheHint()
    {
        await using S3Store store = Open(_ => Error(HttpStatusCode.Forbidden, "AccessDenied", "Access Denied"));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.DeleteAsync(Index, default));
        Assert.Equal("access denied to bucket at http://127.0.0.1:9: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", e.Message);
    }

    [Fact]
    public async Task RequestThaw_SendsDaysAndTier_AndAnAlreadyRunningRestoreIsASuccess()
    {
        bool running = false;
        await using S3Store store = Open(_ => running
            ? Error(HttpStatusCode.Conflict, "RestoreAlreadyInProgress", "Object restore is already in progress")
            : new HttpResponseMessage(HttpStatusCode.Accepted));
        await store.RequestThawAsync(Pack, new ThawRequest(ThawTier.Bulk, 3), default);
        running = true;
        await store.RequestThawAsync(Pack, new ThawRequest(ThawTier.Expedited, 3), default);
        Assert.False(store.ColdReadsDirectly);

        var (method, path, body) = _requests[0];
        Assert.Equal(HttpMethod.Post, method);
        Assert.Equal("/bucket/repo/data/abcdef0123", path);
        Assert.Contains("<Days>3</Days>", body, StringComparison.Ordinal);
        Assert.Contains("<GlacierJobParameters><Tier>Bulk</Tier></GlacierJobParameters>", body, StringComparison.Ordinal);
        Assert.Contains("<Tier>Expedited</Tier>", _requests[1].Body, StringComparison.Ordinal);

        // Warm objects never need a thaw: no request is sent.
        await store.RequestThawAsync(Index, new ThawRequest(ThawTier.Bulk, 1), default);
        Assert.Equal(2, _requests.Count);
    }

    private sealed class CannedFactory(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new CannedHandler(answer));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;
    }

    private sealed class CannedHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(answer(request));
    }
}
