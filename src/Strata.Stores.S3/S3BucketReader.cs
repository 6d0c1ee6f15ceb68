using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Sources.Buckets;

namespace Strata.Stores.S3;

/// <summary>
/// The current objects of an S3 bucket (or a folder in one), read for a copy into a repository (strata bucket
/// snapshot --copy). ListObjectsV2 pages, GetObject streams; same options, client setup and credentials as
/// <see cref="S3Store"/>. Needs only s3:ListBucket and s3:GetObject; versioning may be off.
/// </summary>
public sealed class S3BucketReader : IBucketReader
{
    private readonly IAmazonS3 _client;
    private readonly S3StoreOptions _options;
    private readonly string _endpoint;

    public S3BucketReader(S3StoreOptions options, AWSCredentials? credentials = null)
        : this(options, credentials, null)
    {
    }

    /// <param name="httpClientFactory">Tests: canned HTTP answers (a dropped download) that a real server cannot give on demand.</param>
    internal S3BucketReader(S3StoreOptions options, AWSCredentials? credentials, HttpClientFactory? httpClientFactory)
    {
        options.Validate();
        // More connections than the archiver opens objects ahead of its workers (12): a response waiting to be read
        // holds its connection, and a read must never wait for a connection held by a file queued behind it.
        _options = options = options with { Connections = Math.Max(options.Connections, 16) };
        _endpoint = S3Store.DisplayEndpoint(options);
        Prefix = options.NormalizedPrefix;
        Location = $"s3:{_endpoint}/{options.Bucket}" + (Prefix.Length > 0 ? "/" + Prefix.TrimEnd('/') : "");
        _client = S3Clients.Create(options, credentials, httpClientFactory, Location);
    }

    public string Location { get; }
    public string Bucket => _options.Bucket;
    public string Prefix { get; }

    /// <summary>How often a broken download is resumed (a ranged GetObject of the same ETag) before the object is given up.</summary>
    public int Resumes { get; init; } = 3;

    /// <param name="what">What was being done, the location included ("listing s3:...").</param>
    internal StoreException Classify(Exception e, string what) => S3Store.Classify(e, what, _options.Bucket, _endpoint);

    /// <summary>Lists one key: fails at once, with a clear message, for a missing bucket or refused credentials.</summary>
    public async Task CheckAsync(CancellationToken ct)
    {
        try
        {
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = Prefix, MaxKeys = 1 }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"listing {Location}");
        }
    }

    public async IAsyncEnumerable<BucketObject> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = Prefix, ContinuationToken = token }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not StoreException)
            {
                ct.ThrowIfCancellationRequested();
                throw Classify(e, $"listing {Location}");
            }
            foreach (S3Object o in page.S3Objects ?? [])
            {
                yield return new BucketObject(o.Key, o.Size ?? 0, Unquote(o.ETag), ToOffset(o.LastModified), o.StorageClass?.Value);
            }
            string? next = page.IsTruncated == true ? page.NextContinuationToken : null;
            if (next is not null && next == token)
            {
                throw new PermanentStoreException($"listing {Location}: the server returned the same continuation token twice");
            }
            token = next;
        }
        while (!string.IsNullOrEmpty(token));
    }

    public async Task<BucketObjectRead> OpenAsync(BucketObject obj, CancellationToken ct)
    {
        GetObjectResponse r = await GetAsync(obj.Key, null, 0, ct).ConfigureAwait(false);
        string etag = Unquote(r.ETag);
        var meta = r.Metadata.Keys
            .Select(k => new KeyValuePair<string, string>(k.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase) ? k["x-amz-meta-".Length..] : k, r.Metadata[k]))
            .OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .ToList();
        var stream = new ResumingStream(this, obj.Key, etag, r);
        return new BucketObjectRead(stream, etag, r.LastModified is { } t ? ToOffset(t) : obj.LastModified, r.VersionId, r.Headers.ContentType, meta);
    }

    /// <summary>GetObject, from <paramref name="offset"/> and only while the ETag is <paramref name="etag"/> when given.</summary>
    private async Task<GetObjectResponse> GetAsync(string key, string? etag, long offset, CancellationToken ct)
    {
        var request = new GetObjectRequest { BucketName = Bucket, Key = key };
        if (etag is not null)
        {
            request.EtagToMatch = "\"" + etag + "\"";
        }
        if (offset > 0)
        {
            request.ByteRange = new ByteRange($"bytes={offset}-");
        }
        try
        {
            return await _client.GetObjectAsync(request, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidObjectState")
        {
            throw new PermanentStoreException($"'{key}' in {Location} is in an archive storage class and not restored: restore it in the bucket first (aws s3api restore-object), then copy again", e);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            throw new PermanentStoreException($"'{key}' was deleted from {Location} after it was listed", e);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.PreconditionFailed)
        {
            throw new PermanentStoreException($"'{key}' in {Location} was replaced while it was read; the next copy reads the new content", e);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"reading '{key}' in {Location}");
        }
    }

    private static string Unquote(string? etag) => (etag ?? "").Trim('"');

    private static DateTimeOffset ToOffset(DateTime? time) => time is not { } t ? DateTimeOffset.UnixEpoch
        : t.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc))
        : new DateTimeOffset(t.ToUniversalTime());

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// An object's body that survives a broken connection: on a read error or an early end, it asks again from the
    /// byte it reached, for the same ETag only (a replaced object fails instead of mixing two contents).
    /// </summary>
    private sealed class ResumingStream(S3BucketReader owner, string key, string etag, GetObjectResponse first) : Stream
    {
        private GetObjectResponse _response = first;
        private readonly long _length = first.ContentLength;
        private long _position;
        private int _resumes;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            while (true)
            {
                string problem;
                try
                {
                    int n = await _response.ResponseStream.ReadAsync(buffer, ct).ConfigureAwait(false);
                    if (n > 0 || _position >= _length || buffer.IsEmpty)
                    {
                        _position += n;
                        return n;
                    }
                    problem = $"the download ended at byte {_position} of {_length}";
                }
                catch (Exception e) when (e is IOException or HttpRequestException or AmazonClientException && !ct.IsCancellationRequested)
                {
                    problem = e.Message;
                }
                if (_resumes >= owner.Resumes)
                {
                    throw new IOException($"reading '{key}' in {owner.Location} failed {_resumes + 1} times, last: {problem}");
                }
                _resumes++;
                _response.Dispose();
                _response = await owner.GetAsync(key, etag, _position, ct).ConfigureAwait(false);
                if (_response.HttpStatusCode == HttpStatusCode.OK && _position > 0)
                {
                    await SkipAsync(_response.ResponseStream, _position, ct).ConfigureAwait(false);
                }
            }
        }

        /// <summary>A server that ignores the range sends the whole object: read past what was already delivered.</summary>
        private static async Task SkipAsync(Stream body, long count, CancellationToken ct)
        {
            byte[] scratch = new byte[64 * 1024];
            while (count > 0)
            {
                int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(scratch.Length, count)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException("the object ended before the point the download had reached");
                }
                count -= n;
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
