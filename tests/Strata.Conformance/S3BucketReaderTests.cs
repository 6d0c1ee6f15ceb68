using System.Net;
using System.Net.Http.Headers;
using Amazon.Runtime;
using Strata.Sources.Buckets;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// The bucket reader of strata bucket snapshot --copy, with the real SDK against canned HTTP answers, for what
/// radosgw cannot do on demand: a download that breaks halfway resumes with a ranged read of the same ETag and
/// yields exactly the object's bytes; an object replaced before the resume fails instead of mixing two contents;
/// a download that keeps breaking gives up with the key in the message. A fake, and only for that.
/// </summary>
public sealed class S3BucketReaderTests
{
    private const string ETag = "\"0123456789abcdef0123456789abcdef\"";
    private static readonly byte[] Content = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7 % 251)).ToArray();
    private static readonly BucketObject Listed = new("photos/a.jpg", Content.Length, ETag.Trim('"'), DateTimeOffset.UnixEpoch, "STANDARD");

    private readonly List<HttpRequestMessage> _requests = [];

    private S3BucketReader Open(Func<HttpRequestMessage, int, HttpResponseMessage> answer) =>
        new(S3StoreOptions.ForCompatibleServer("http://127.0.0.1:9", "bucket") with { SdkRetries = 0 },
            new BasicAWSCredentials("AKEXAMPLE", "SECRET-EXAMPLE"),
            new Factory(request =>
            {
                int n;
                lock (_requests)
                {
                    _requests.Add(request);
                    n = _requests.Count;
                }
                return answer(request, n);
            }));

    /// <summary>The object from <paramref name="from"/>, the body breaking (IOException) after <paramref name="breakAfter"/> bytes.</summary>
    private static HttpResponseMessage Body(int from, int breakAfter = int.MaxValue, string etag = ETag)
    {
        byte[] rest = Content[from..];
        var r = new HttpResponseMessage(from == 0 ? HttpStatusCode.OK : HttpStatusCode.PartialContent)
        {
            Content = new StreamContent(new BreakingStream(rest, breakAfter)),
        };
        r.Content.Headers.ContentLength = rest.Length;
        if (from > 0)
        {
            r.Content.Headers.ContentRange = new ContentRangeHeaderValue(from, Content.Length - 1, Content.Length);
        }
        r.Headers.ETag = new EntityTagHeaderValue(etag);
        r.Content.Headers.LastModified = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        r.Content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        r.Headers.Add("x-amz-version-id", "v1");
        r.Headers.Add("x-amz-meta-camera", "x100");
        return r;
    }

    private static int From(HttpRequestMessage r) => (int)(r.Headers.Range?.Ranges.Single().From ?? 0);

    private static async Task<byte[]> ReadAllAsync(Stream s)
    {
        using var ms = new MemoryStream();
        await s.CopyToAsync(ms, 10_000);
        return ms.ToArray();
    }

    [Fact]
    public async Task A_broken_download_resumes_from_where_it_broke_for_the_same_etag()
    {
        await using S3BucketReader reader = Open((r, n) => Body(From(r), breakAfter: n == 1 ? 100_000 : n == 2 ? 50_000 : int.MaxValue));
        BucketObjectRead read = await reader.OpenAsync(Listed, default);
        Assert.Equal("v1", read.VersionId);
        Assert.Equal("image/jpeg", read.ContentType);
        Assert.Equal([new("camera", "x100")], read.Metadata);
        byte[] got = await ReadAllAsync(read.Data);
        Assert.Equal(Content, got);
        Assert.Equal(3, _requests.Count);
        Assert.Null(_requests[0].Headers.Range);
        Assert.Equal(100_000, _requests[1].Headers.Range!.Ranges.Single().From);
        Assert.Equal(150_000, _requests[2].Headers.Range!.Ranges.Single().From);
        Assert.All(_requests.Skip(1), r => Assert.Equal(ETag, r.Headers.IfMatch.Single().Tag));
    }

    [Fact]
    public async Task An_object_replaced_before_the_resume_fails_with_its_key()
    {
        await using S3BucketReader reader = Open((_, n) => n == 1
            ? Body(0, breakAfter: 100_000)
            : new HttpResponseMessage(HttpStatusCode.PreconditionFailed)
            {
                Content = new StringContent("<?xml version=\"1.0\"?><Error><Code>PreconditionFailed</Code><Message>At least one of the preconditions you specified did not hold</Message></Error>"),
            });
        BucketObjectRead read = await reader.OpenAsync(Listed, default);
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => ReadAllAsync(read.Data));
        Assert.Contains("photos/a.jpg", e.Message);
        Assert.Contains("replaced while it was read", e.Message);
    }

    [Fact]
    public async Task A_download_that_keeps_breaking_gives_up_naming_the_key()
    {
        await using S3BucketReader reader = Open((r, _) => Body(From(r), breakAfter: 10_000));
        BucketObjectRead read = await reader.OpenAsync(Listed, default);
        var e = await Assert.ThrowsAsync<IOException>(() => ReadAllAsync(read.Data));
        Assert.Contains("photos/a.jpg", e.Message);
        Assert.Equal(1 + reader.Resumes, _requests.Count);
    }

    /// <summary>Serves bytes, then throws as a reset connection does.</summary>
    private sealed class BreakingStream(byte[] data, int breakAfter) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position >= breakAfter && _position < data.Length)
            {
                throw new IOException("connection reset by peer (canned)");
            }
            int n = Math.Min(buffer.Length, Math.Min(breakAfter, data.Length) - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class Factory(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(new Handler(answer));

        public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;
    }

    private sealed class Handler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => Task.FromResult(answer(request));
    }
}
