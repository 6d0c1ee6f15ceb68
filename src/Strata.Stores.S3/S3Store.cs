using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Strata.Stores.S3;

/// <summary>
/// A repository in an S3 bucket (AWS or a compatible server). Object key = prefix + <see cref="ObjectName.Path"/>.
/// Writes are create-only (<c>If-None-Match: *</c>, on PutObject or on CompleteMultipartUpload); data packs go to
/// <see cref="S3StoreOptions.ColdStorageClass"/>, everything else to <see cref="S3StoreOptions.WarmStorageClass"/>.
/// Memory: one rented buffer per write in flight (the object up to the multipart threshold, else one part), plus
/// two 64 KiB buffers while a conflicting write is compared with the stored object.
/// Errors are classified here: throttling, 5xx, timeouts and dropped connections are transient; credentials,
/// a missing bucket and other 4xx are permanent. Messages name the object and the store, never a secret.
/// </summary>
public sealed class S3Store : IStore, IColdTransition
{
    private const int CompareBufferSize = 64 * 1024;
    private static readonly TimeSpan AbortTimeout = TimeSpan.FromSeconds(30);
    internal const string NoCredentialsHint = "no AWS credentials found: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE";

    private readonly IAmazonS3 _client;
    private readonly S3StoreOptions _options;
    private readonly string _prefix;
    private readonly string _endpoint;
    private readonly S3StorageClass _coldClass;
    private readonly S3StorageClass _warmClass;
    private int _coldReadsDirectly;
    private volatile bool _bucketSeen;

    /// <param name="options">Where the repository lives; validated here.</param>
    /// <param name="credentials">Explicit credentials (tests, callers with their own source); null uses the SDK's default chain.</param>
    public S3Store(S3StoreOptions options, AWSCredentials? credentials = null)
        : this(options, credentials, httpClientFactory: null)
    {
    }

    /// <param name="httpClientFactory">Tests put canned HTTP answers behind the real SDK with it.</param>
    internal S3Store(S3StoreOptions options, AWSCredentials? credentials, HttpClientFactory? httpClientFactory)
    {
        options.Validate();
        _options = options;
        _prefix = options.NormalizedPrefix;
        _endpoint = DisplayEndpoint(options);
        _coldClass = S3StorageClass.FindValue(options.ColdStorageClass);
        _warmClass = S3StorageClass.FindValue(options.WarmStorageClass);
        _coldReadsDirectly = options.ColdReadsDirectly ? 1 : 0;
        Location = $"s3:{_endpoint}/{options.Bucket}" + (_prefix.Length > 0 ? "/" + _prefix.TrimEnd('/') : "");

        _client = S3Clients.Create(options, credentials, httpClientFactory, Location);
    }

    public string Location { get; }

    public S3StoreOptions Options => _options;

    /// <summary>The endpoint as messages show it: "http://127.0.0.1:7480" or "s3.eu-west-1.amazonaws.com".</summary>
    public string Endpoint => _endpoint;

    /// <summary>The server keeps archive classes but reads them at once (radosgw): no thaw is ever needed.</summary>
    public bool ColdReadsDirectly => Volatile.Read(ref _coldReadsDirectly) == 1;

    /// <summary>Raised once, when RestoreObject answers 501 and the store learns that the server reads archived objects directly.</summary>
    public event EventHandler? ColdReadsDirectlyDetected;

    public StoreProperties Properties => new(
        Connections: _options.Connections,
        HasColdTier: IsArchiveClass(_options.ColdStorageClass),
        SimulatedCold: false,
        AtomicCreate: true,
        ColdReadsDirectly: ColdReadsDirectly,
        PriceProvider: "aws-s3",
        ColdStorageClass: _options.ColdStorageClass,
        WarmStorageClass: _options.WarmStorageClass);

    /// <summary>GLACIER and DEEP_ARCHIVE need a RestoreObject before a read; every other class reads at once.</summary>
    public static bool IsArchiveClass(string storageClass) => storageClass is "GLACIER" or "DEEP_ARCHIVE";

    private string Key(ObjectName name) => _prefix + name.Path;

    private S3StorageClass ClassFor(ObjectName name) => name.Tier == Tier.Cold && !_options.StageWarm ? _coldClass : _warmClass;

    public bool StagesWarm => _options.StageWarm;

    public bool IsStaged(ObjectInfo info) => info.Name.Tier == Tier.Cold && info.StorageClass != _options.ColdStorageClass;

    /// <summary>Moves a staged cold object to the cold class with an in-place CopyObject (same bytes, same key, new class).</summary>
    public async Task MoveToColdAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            await _client.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = _options.Bucket,
                SourceKey = Key(name),
                DestinationBucket = _options.Bucket,
                DestinationKey = Key(name),
                StorageClass = _coldClass,
                MetadataDirective = S3MetadataDirective.COPY,
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "moving to " + _options.ColdStorageClass, name);
        }
    }

    // ---------------------------------------------------------------- stat

    public async Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct)
    {
        GetObjectMetadataResponse? head = await HeadAsync(name, ct).ConfigureAwait(false);
        return head is null ? null : new ObjectInfo(name, head.ContentLength, ToOffset(head.LastModified), ClassName(head.StorageClass));
    }

    /// <summary>HeadObject; null when the object does not exist. The first 404 checks the bucket, so a missing bucket is not mistaken for a missing object.</summary>
    private async Task<GetObjectMetadataResponse?> HeadAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            return await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = Key(name) }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            if (!_bucketSeen)
            {
                await CheckBucketAsync(ct).ConfigureAwait(false);
            }
            return null;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the metadata of", name);
        }
    }

    /// <summary>
    /// Like <see cref="HeadAsync"/>, but a 403 answers null ("not known to exist") instead of failing: a writer whose IAM
    /// policy grants no s3:GetObject on data/ (strata s3 policy) cannot HEAD its own packs. The create-only guarantee then
    /// rests on If-None-Match on CompleteMultipartUpload; pack names are SHA-256 of their bytes, so even a server that
    /// ignores it (radosgw 16) can only replace a pack with identical bytes.
    /// </summary>
    private async Task<GetObjectMetadataResponse?> HeadIfPermittedAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            return await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = Key(name) }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Forbidden && e.ErrorCode is null or "AccessDenied" or "Forbidden")
        {
            return null;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the metadata of", name);
        }
    }

    /// <summary>Whether a HEAD of this object is refused with 403 (as for a writer on data/).</summary>
    private async Task<bool> HeadForbiddenAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = Key(name) }, ct).ConfigureAwait(false);
            return false;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Forbidden)
        {
            return true;
        }
        catch (AmazonS3Exception)
        {
            return false;
        }
    }

    private async Task CheckBucketAsync(CancellationToken ct)
    {
        try
        {
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = _prefix, MaxKeys = 1 }, ct).ConfigureAwait(false);
            _bucketSeen = true;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "listing", null);
        }
    }

    // ---------------------------------------------------------------- read

    public async Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffer.Length == 0)
        {
            if (await HeadAsync(name, ct).ConfigureAwait(false) is null)
            {
                throw new ObjectNotFoundException(Location, name);
            }
            return;
        }
        var request = new GetObjectRequest
        {
            BucketName = _options.Bucket,
            Key = Key(name),
            ByteRange = new ByteRange(offset, offset + buffer.Length - 1),
        };
        int total = 0;
        try
        {
            using GetObjectResponse response = await _client.GetObjectAsync(request, ct).ConfigureAwait(false);
            Stream body = response.ResponseStream;
            if (response.HttpStatusCode == HttpStatusCode.OK && offset > 0)
            {
                // The server ignored the range and sent the whole object: skip to the offset.
                await SkipAsync(body, offset, ct).ConfigureAwait(false);
            }
            while (total < buffer.Length)
            {
                int n = await body.ReadAsync(buffer[total..], ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            _bucketSeen = true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidRange" || e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            total = -1;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidObjectState")
        {
            throw await FrozenAsync(name, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading", name);
        }
        if (total < buffer.Length)
        {
            throw await ShortReadAsync(name, offset, buffer.Length, ct).ConfigureAwait(false);
        }
    }

    private static async Task SkipAsync(Stream body, long count, CancellationToken ct)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(CompareBufferSize);
        try
        {
            while (count > 0)
            {
                int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(count, scratch.Length)), ct).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private async Task<StoreException> ShortReadAsync(ObjectName name, long offset, int length, CancellationToken ct)
    {
        GetObjectMetadataResponse? head = await HeadAsync(name, ct).ConfigureAwait(false);
        if (head is null)
        {
            return new ObjectNotFoundException(Location, name);
        }
        return new PermanentStoreException($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + length}, it ends at {head.ContentLength}");
    }

    private async Task<StoreException> FrozenAsync(ObjectName name, CancellationToken ct)
    {
        GetObjectMetadataResponse? head = await HeadAsync(name, ct).ConfigureAwait(false);
        if (head is null)
        {
            return new ObjectNotFoundException(Location, name);
        }
        ThawStatus status = StatusFrom(ClassName(head.StorageClass), head.RestoreInProgress, head.RestoreExpiration, coldReadsDirectly: false);
        if (status.CanRead)
        {
            // The server refused the read although the object looks readable (a thawed copy that just expired).
            status = new ThawStatus(ThawState.Frozen);
        }
        return new ObjectFrozenException(Location, name, ClassName(head.StorageClass), status);
    }

    // ---------------------------------------------------------------- write

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        long? remaining = content.CanSeek ? content.Length - content.Position : null;
        try
        {
            if (remaining is { } r && r <= _options.MultipartThreshold)
            {
                byte[] buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(r, 1));
                try
                {
                    int got = await content.ReadAtLeastAsync(buffer.AsMemory(0, (int)r), (int)r, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                    await PutSingleAsync(name, buffer, got, ct).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            else
            {
                await PutMultipartAsync(name, content, remaining, ct).ConfigureAwait(false);
            }
            _bucketSeen = true;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "writing", name);
        }
    }

    [SuppressMessage("Security", "CA5351", Justification = "MD5 is S3's Content-MD5 / ETag integrity check, not a security primitive.")]
    private async Task PutSingleAsync(ObjectName name, byte[] buffer, int length, CancellationToken ct)
    {
        byte[] md5 = MD5.HashData(buffer.AsSpan(0, length));
        using var body = new MemoryStream(buffer, 0, length, writable: false);
        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = Key(name),
            InputStream = body,
            AutoCloseStream = false,
            StorageClass = ClassFor(name),
            IfNoneMatch = "*",
            MD5Digest = Convert.ToBase64String(md5),
            UseChunkEncoding = _options.UseChunkEncoding,
        };
        try
        {
            await _client.PutObjectAsync(request, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (IsPreconditionFailed(e))
        {
            // Exists already: the same bytes make this an idempotent retry, anything else is refused.
            GetObjectMetadataResponse? head = await HeadIfPermittedAsync(name, ct).ConfigureAwait(false);
            if (head is null && name.Kind != ObjectKind.Config && await HeadForbiddenAsync(name, ct).ConfigureAwait(false))
            {
                // A writer may not look (no s3:GetObject on data/): every name but config is derived from the bytes it
                // names (a hash, a pack id, a random lock id), so an existing object of that name is this write's retry.
                return;
            }
            head ??= await HeadAsync(name, ct).ConfigureAwait(false)
                ?? throw new TransientStoreException($"writing {name.Path} in {Location}: the create-only write was refused, but the object is gone now");
            Stream Reopen() => new MemoryStream(buffer, 0, length, writable: false);
            await RequireSameAsync(name, head, length, Convert.ToHexStringLower(md5), Reopen, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Uploads in parts of <see cref="S3StoreOptions.PartSize"/> (more when the object would need over 10,000 parts), one part
    /// buffer at a time. The object appears only when CompleteMultipartUpload succeeds; any failure aborts the upload.
    /// An object that exists already is compared first, so a retry of a finished upload sends nothing.
    /// </summary>
    [SuppressMessage("Security", "CA5351", Justification = "MD5 is S3's Content-MD5 / ETag integrity check, not a security primitive.")]
    private async Task PutMultipartAsync(ObjectName name, Stream content, long? remaining, CancellationToken ct)
    {
        int partSize = PartSizeFor(remaining);
        long start = content.CanSeek ? content.Position : -1;
        Func<Stream>? reopen = content.CanSeek ? () => { content.Position = start; return new NonClosingStream(content); } : null;

        GetObjectMetadataResponse? existing = await HeadIfPermittedAsync(name, ct).ConfigureAwait(false);
        if (existing is not null)
        {
            string? ours = reopen is not null && PartsOf(existing.ETag) is not null
                ? await CompositeETagAsync(reopen(), partSize, ct).ConfigureAwait(false)
                : null;
            await RequireSameAsync(name, existing, remaining, ours, reopen ?? (() => new NonClosingStream(content)), ct).ConfigureAwait(false);
            return;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(partSize);
        string? uploadId = null;
        bool done = false;
        try
        {
            int got = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            if (remaining is null && got < partSize && got <= _options.MultipartThreshold)
            {
                // A stream of unknown length that turned out small.
                await PutSingleAsync(name, buffer, got, ct).ConfigureAwait(false);
                done = true;
                return;
            }
            var initiate = new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = Key(name), StorageClass = ClassFor(name) };
            uploadId = (await _client.InitiateMultipartUploadAsync(initiate, ct).ConfigureAwait(false)).UploadId;

            var etags = new List<PartETag>();
            using var composite = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            long total = 0;
            while (true)
            {
                int number = etags.Count + 1;
                if (number > S3StoreOptions.MaxParts)
                {
                    throw new PermanentStoreException($"writing {name.Path} in {Location}: the object needs more than {S3StoreOptions.MaxParts} parts of {partSize} bytes; raise the part size");
                }
                byte[] md5 = MD5.HashData(buffer.AsSpan(0, got));
                composite.AppendData(md5);
                using (var body = new MemoryStream(buffer, 0, got, writable: false))
                {
                    var part = new UploadPartRequest
                    {
                        BucketName = _options.Bucket,
                        Key = Key(name),
                        UploadId = uploadId,
                        PartNumber = number,
                        PartSize = got,
                        InputStream = body,
                        MD5Digest = Convert.ToBase64String(md5),
                        UseChunkEncoding = _options.UseChunkEncoding,
                        IsLastPart = got < partSize,
                    };
                    UploadPartResponse uploaded = await _client.UploadPartAsync(part, ct).ConfigureAwait(false);
                    etags.Add(new PartETag { PartNumber = number, ETag = uploaded.ETag });
                }
                total += got;
                if (got < partSize)
                {
                    break;
                }
                got = await content.ReadAtLeastAsync(buffer.AsMemory(0, partSize), partSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                if (got == 0)
                {
                    break;
                }
            }
            string ourETag = Convert.ToHexStringLower(composite.GetHashAndReset()) + "-" + etags.Count;

            // AWS honours If-None-Match on CompleteMultipartUpload; radosgw 16 ignores it and would overwrite. Looking
            // once more just before completing shrinks that window from the whole upload to one round trip.
            if (await HeadIfPermittedAsync(name, ct).ConfigureAwait(false) is { } created)
            {
                await RequireSameAsync(name, created, total, ourETag, reopen, ct).ConfigureAwait(false);
                return;
            }
            var complete = new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = Key(name),
                UploadId = uploadId,
                PartETags = etags,
                IfNoneMatch = "*",
            };
            try
            {
                await _client.CompleteMultipartUploadAsync(complete, ct).ConfigureAwait(false);
                done = true;
            }
            catch (AmazonS3Exception e) when (IsPreconditionFailed(e))
            {
                // Someone created it while we uploaded; our parts are aborted below.
                GetObjectMetadataResponse? head = await HeadAsync(name, ct).ConfigureAwait(false)
                    ?? throw new TransientStoreException($"writing {name.Path} in {Location}: the create-only write was refused, but the object is gone now");
                await RequireSameAsync(name, head, total, ourETag, reopen, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!done && uploadId is not null)
            {
                await AbortQuietlyAsync(Key(name), uploadId).ConfigureAwait(false);
            }
        }
    }

    private int PartSizeFor(long? remaining)
    {
        long size = _options.PartSize;
        if (remaining is { } r && (r + size - 1) / size > S3StoreOptions.MaxParts)
        {
            long needed = (r + S3StoreOptions.MaxParts - 1) / S3StoreOptions.MaxParts;
            size = (needed + S3StoreOptions.MiB - 1) / S3StoreOptions.MiB * S3StoreOptions.MiB;
        }
        return (int)Math.Min(size, Array.MaxLength);
    }

    /// <summary>Best effort: an upload that cannot be aborted stays invisible (a bucket lifecycle rule should reap it).</summary>
    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        using var cts = new CancellationTokenSource(AbortTimeout);
        try
        {
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = uploadId }, cts.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nothing is visible either way; the original error is the one to report.
        }
    }

    /// <summary>
    /// The object exists: returns when it holds our bytes, throws <see cref="ObjectExistsException"/> otherwise.
    /// Equal lengths and ETags prove it cheaply; otherwise the stored object is read and compared. An archived
    /// object that cannot be read to compare counts as different: the store never guesses in favour of a write.
    /// </summary>
    private async Task RequireSameAsync(ObjectName name, GetObjectMetadataResponse existing, long? length, string? ourETag, Func<Stream>? reopen, CancellationToken ct)
    {
        if (length is { } l && existing.ContentLength != l)
        {
            throw new ObjectExistsException(Location, name);
        }
        if (ourETag is not null && string.Equals(Unquote(existing.ETag), ourETag, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        if (reopen is null)
        {
            throw new ObjectExistsException(Location, name);
        }
        bool same;
        using (Stream ours = reopen())
        {
            same = await ContentEqualsAsync(name, ours, ct).ConfigureAwait(false);
        }
        if (!same)
        {
            throw new ObjectExistsException(Location, name);
        }
    }

    private async Task<bool> ContentEqualsAsync(ObjectName name, Stream ours, CancellationToken ct)
    {
        byte[] a = ArrayPool<byte>.Shared.Rent(CompareBufferSize);
        byte[] b = ArrayPool<byte>.Shared.Rent(CompareBufferSize);
        try
        {
            using GetObjectResponse response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = Key(name) }, ct).ConfigureAwait(false);
            while (true)
            {
                int na = await ours.ReadAtLeastAsync(a.AsMemory(0, CompareBufferSize), CompareBufferSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                int nb = await response.ResponseStream.ReadAtLeastAsync(b.AsMemory(0, CompareBufferSize), CompareBufferSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
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
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidObjectState")
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    /// <summary>The multipart ETag our bytes would get with this part size: MD5 of the parts' MD5s, "-", the part count.</summary>
    [SuppressMessage("Security", "CA5351", Justification = "MD5 is S3's ETag, not a security primitive.")]
    private static async Task<string> CompositeETagAsync(Stream content, int partSize, CancellationToken ct)
    {
        using (content)
        {
            using var composite = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            using var part = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                int parts = 0;
                long inPart = 0;
                while (true)
                {
                    int want = (int)Math.Min(buffer.Length, partSize - inPart);
                    int n = await content.ReadAsync(buffer.AsMemory(0, want), ct).ConfigureAwait(false);
                    if (n == 0)
                    {
                        break;
                    }
                    part.AppendData(buffer, 0, n);
                    inPart += n;
                    if (inPart == partSize)
                    {
                        composite.AppendData(part.GetHashAndReset());
                        parts++;
                        inPart = 0;
                    }
                }
                if (inPart > 0 || parts == 0)
                {
                    composite.AppendData(part.GetHashAndReset());
                    parts++;
                }
                return Convert.ToHexStringLower(composite.GetHashAndReset()) + "-" + parts;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static int? PartsOf(string? etag)
    {
        string e = Unquote(etag);
        int dash = e.LastIndexOf('-');
        return dash > 0 && int.TryParse(e.AsSpan(dash + 1), out int n) ? n : null;
    }

    private static string Unquote(string? etag) => (etag ?? "").Trim('"');

    private static bool IsPreconditionFailed(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.PreconditionFailed || e.ErrorCode == "PreconditionFailed";

    // ---------------------------------------------------------------- delete, list

    public async Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = Key(name) }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey")
        {
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "deleting", name);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        string prefix = kind == ObjectKind.Config ? _prefix + "config" : _prefix + ObjectKinds.Folder(kind) + "/";
        string? token = null;
        do
        {
            ListObjectsV2Response page = await ListPageAsync(prefix, token, ct).ConfigureAwait(false);
            foreach (S3Object o in page.S3Objects ?? [])
            {
                if (o.Key is { } key && key.StartsWith(_prefix, StringComparison.Ordinal)
                    && ObjectName.TryParsePath(key[_prefix.Length..]) is { } name && name.Kind == kind)
                {
                    yield return new ObjectInfo(name, o.Size ?? 0, ToOffset(o.LastModified), ClassName(o.StorageClass));
                }
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(token));
    }

    private async Task<ListObjectsV2Response> ListPageAsync(string prefix, string? token, CancellationToken ct)
    {
        try
        {
            var request = new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = prefix, ContinuationToken = token };
            ListObjectsV2Response page = await _client.ListObjectsV2Async(request, ct).ConfigureAwait(false);
            _bucketSeen = true;
            return page;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "listing", null);
        }
    }

    // ---------------------------------------------------------------- thaw

    public async Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct)
    {
        GetObjectMetadataResponse head = await HeadAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
        return StatusFrom(ClassName(head.StorageClass), head.RestoreInProgress, head.RestoreExpiration, ColdReadsDirectly);
    }

    /// <summary>
    /// The thaw state from HeadObject: warm classes are readable; an archive class is Thawing while x-amz-restore says
    /// ongoing-request="true", Thawed until its expiry-date once it says "false", and Frozen without the header.
    /// </summary>
    internal static ThawStatus StatusFrom(string storageClass, bool? restoreInProgress, DateTime? restoreExpiration, bool coldReadsDirectly)
    {
        if (!IsArchiveClass(storageClass) || coldReadsDirectly)
        {
            return new ThawStatus(ThawState.Readable);
        }
        if (restoreInProgress == true)
        {
            return new ThawStatus(ThawState.Thawing);
        }
        if (restoreExpiration is { } expires)
        {
            return new ThawStatus(ThawState.Thawed, ExpiresAt: ToOffset(expires));
        }
        return new ThawStatus(ThawState.Frozen);
    }

    public async Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct)
    {
        if (name.Tier == Tier.Warm || ColdReadsDirectly)
        {
            return;
        }
        var restore = new RestoreObjectRequest
        {
            BucketName = _options.Bucket,
            Key = Key(name),
            Days = request.Days,
            Tier = request.Tier switch
            {
                ThawTier.Bulk => GlacierJobTier.Bulk,
                ThawTier.Standard => GlacierJobTier.Standard,
                _ => GlacierJobTier.Expedited,
            },
        };
        try
        {
            await _client.RestoreObjectAsync(restore, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "RestoreAlreadyInProgress")
        {
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotImplemented || e.ErrorCode == "NotImplemented")
        {
            // radosgw keeps archive classes but has no Glacier behind them: it reads them at once.
            if (Interlocked.Exchange(ref _coldReadsDirectly, 1) == 0)
            {
                ColdReadsDirectlyDetected?.Invoke(this, EventArgs.Empty);
            }
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "InvalidObjectState")
        {
            // Not in an archive class (or already restored): it can be read as it is.
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "requesting a thaw of", name);
        }
    }

    // ---------------------------------------------------------------- bucket

    /// <summary>Creates the bucket when it does not exist (repository init). An existing bucket of ours is a success.</summary>
    public async Task CreateBucketIfMissingAsync(CancellationToken ct)
    {
        try
        {
            try
            {
                await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, MaxKeys = 1 }, ct).ConfigureAwait(false);
                _bucketSeen = true;
                return;
            }
            catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
            {
            }
            var request = new PutBucketRequest { BucketName = _options.Bucket };
            if (_options.ServiceUrl is null && _options.Region != "us-east-1")
            {
                request.BucketRegionName = _options.Region;
            }
            await _client.PutBucketAsync(request, ct).ConfigureAwait(false);
            _bucketSeen = true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "BucketAlreadyOwnedByYou")
        {
            _bucketSeen = true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "BucketAlreadyExists")
        {
            throw new PermanentStoreException($"bucket {_options.Bucket} at {_endpoint} belongs to another account; choose another name");
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "creating the bucket of", null);
        }
    }

    // ---------------------------------------------------------------- object lock

    /// <summary>
    /// Makes every new object version in the bucket carry Object Lock retention (<paramref name="mode"/> "GOVERNANCE" or
    /// "COMPLIANCE", for <paramref name="days"/> days), through the bucket's default retention rule, so it applies to
    /// every writer (Strata, restic, anything) without each request asking. A missing bucket is created with Object Lock
    /// (which also turns versioning on); an existing bucket without Object Lock is refused with what to do instead.
    /// The rule is bucket-wide: other prefixes in the bucket get it too.
    /// </summary>
    public async Task EnableObjectLockAsync(string mode, int days, CancellationToken ct)
    {
        var lockMode = mode switch
        {
            "GOVERNANCE" => ObjectLockRetentionMode.Governance,
            "COMPLIANCE" => ObjectLockRetentionMode.Compliance,
            _ => throw new ArgumentException($"Object Lock mode '{mode}' is not GOVERNANCE or COMPLIANCE", nameof(mode)),
        };
        try
        {
            bool exists = true;
            try
            {
                await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, MaxKeys = 1 }, ct).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
            {
                exists = false;
            }
            if (!exists)
            {
                var request = new PutBucketRequest { BucketName = _options.Bucket, ObjectLockEnabledForBucket = true };
                if (_options.ServiceUrl is null && _options.Region != "us-east-1")
                {
                    request.BucketRegionName = _options.Region;
                }
                await _client.PutBucketAsync(request, ct).ConfigureAwait(false);
            }
            else if (!await ObjectLockEnabledAsync(ct).ConfigureAwait(false))
            {
                throw new ObjectLockUnavailableException($"bucket {_options.Bucket} at {_endpoint} exists without Object Lock, and Object Lock can only be turned on when a bucket is created: use a new bucket name (strata creates it with Object Lock), or enable Object Lock on this bucket first (AWS allows it on versioned buckets)");
            }
            _bucketSeen = true;
            await _client.PutObjectLockConfigurationAsync(new PutObjectLockConfigurationRequest
            {
                BucketName = _options.Bucket,
                ObjectLockConfiguration = new ObjectLockConfiguration
                {
                    ObjectLockEnabled = ObjectLockEnabled.Enabled,
                    Rule = new ObjectLockRule { DefaultRetention = new DefaultRetention { Mode = lockMode, Days = days } },
                },
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException and not ObjectLockUnavailableException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "setting Object Lock on the bucket of", null);
        }
    }

    /// <summary>The bucket's default retention: (mode, days), or null when it has none. Needs s3:GetBucketObjectLockConfiguration.</summary>
    public async Task<(string Mode, int Days)?> GetDefaultRetentionAsync(CancellationToken ct)
    {
        try
        {
            var r = await _client.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = _options.Bucket }, ct).ConfigureAwait(false);
            DefaultRetention? d = r.ObjectLockConfiguration?.Rule?.DefaultRetention;
            return d?.Mode is null ? null : (d.Mode.Value, d.Days ?? (d.Years ?? 0) * 365);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "ObjectLockConfigurationNotFoundError")
        {
            return null;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the Object Lock configuration of", null);
        }
    }

    private async Task<bool> ObjectLockEnabledAsync(CancellationToken ct)
    {
        try
        {
            var r = await _client.GetObjectLockConfigurationAsync(new GetObjectLockConfigurationRequest { BucketName = _options.Bucket }, ct).ConfigureAwait(false);
            return r.ObjectLockConfiguration?.ObjectLockEnabled == ObjectLockEnabled.Enabled;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "ObjectLockConfigurationNotFoundError" or "InvalidRequest" || e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    // ---------------------------------------------------------------- errors

    /// <summary>Turns an SDK or network error into the contract's transient / permanent split, with a message for people.</summary>
    internal StoreException Classify(Exception e, string doing, ObjectName? name) =>
        Classify(e, name is { } n ? $"{doing} {n.Path} in {Location}" : $"{doing} {Location}", _options.Bucket, _endpoint);

    /// <summary>The classification itself, for every S3 client of this assembly (the store, versioned buckets, sync targets).</summary>
    /// <param name="what">What was being done, for the message ("reading data/ab12 in s3:...").</param>
    internal static StoreException Classify(Exception e, string what, string bucket, string endpoint)
    {
        switch (e)
        {
            case StoreException se:
                return se;
            case AmazonServiceException s:
            {
                string code = s.ErrorCode ?? "";
                int status = (int)s.StatusCode;
                if (code == "NoSuchBucket")
                {
                    return new PermanentStoreException($"bucket {bucket} does not exist at {endpoint}", e);
                }
                if (code is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "InvalidToken" or "ExpiredToken" or "TokenRefreshRequired"
                    || s.StatusCode == HttpStatusCode.Forbidden)
                {
                    return new PermanentStoreException($"access denied to {bucket} at {endpoint}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY", e);
                }
                if (status == 400 && code is "" or "BadRequest")
                {
                    // No error document: not S3 refusing the request but a garbled exchange (see CacheHttpClient above).
                    return new TransientStoreException($"{what}: the server answered HTTP 400 without a reason; worth retrying", e);
                }
                if (status >= 500 || status is 408 or 429 || code is "SlowDown" or "RequestTimeout" or "InternalError" or "ServiceUnavailable" or "ConditionalRequestConflict" or "OperationAborted")
                {
                    return new TransientStoreException($"{what}: the server answered {Describe(code, status)}; worth retrying", e);
                }
                return new PermanentStoreException($"{what}: the server answered {Describe(code, status)}" + (string.IsNullOrEmpty(s.Message) ? "" : $": {OneLine(s.Message)}"), e);
            }
            case AmazonClientException c when IsNetwork(c.InnerException):
                return new TransientStoreException($"{what}: {OneLine(c.InnerException!.Message)}", e);
            case AmazonClientException c when c.Message.Contains("credentials", StringComparison.OrdinalIgnoreCase):
                return new PermanentStoreException($"{what}: {NoCredentialsHint}", e);
            case AmazonClientException c:
                return new PermanentStoreException($"{what}: {OneLine(c.Message)}", e);
            case OperationCanceledException:
                return new TransientStoreException($"{what}: the request timed out", e);
            case Exception x when IsNetwork(x):
                return new TransientStoreException($"{what}: {OneLine(x.Message)}", e);
            default:
                return new PermanentStoreException($"{what}: {OneLine(e.Message)}", e);
        }
    }

    private static bool IsNetwork(Exception? e) => e is HttpRequestException or IOException or SocketException or TimeoutException
        || (e is not null && e.InnerException is { } inner && IsNetwork(inner));

    private static string Describe(string code, int status) => code.Length > 0 ? $"{code} ({status})" : $"HTTP {status}";

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    // ---------------------------------------------------------------- helpers

    private static string ClassName(S3StorageClass? storageClass) =>
        storageClass?.Value is { Length: > 0 } v ? v : "STANDARD";

    private static DateTimeOffset? ToOffset(DateTime? time) => time is { } t ? ToOffset(t) : null;

    private static DateTimeOffset ToOffset(DateTime t) =>
        t.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : new DateTimeOffset(t.ToUniversalTime());

    internal static string DisplayEndpoint(S3StoreOptions options)
    {
        if (options.ServiceUrl is { } url && Uri.TryCreate(url, UriKind.Absolute, out Uri? uri))
        {
            // Authority has no user-info, so a URL with embedded credentials never reaches a message.
            return $"{uri.Scheme}://{uri.Authority}";
        }
        return options.Region == "us-east-1" ? "s3.amazonaws.com" : $"s3.{options.Region}.amazonaws.com";
    }

    // ---------------------------------------------------------------- URLs

    /// <summary>
    /// Parses restic-style URLs: <c>s3:https://host[:port]/bucket[/prefix]</c>, <c>s3:http://127.0.0.1:7480/bucket</c>,
    /// <c>s3:s3.amazonaws.com/bucket[/prefix]</c>, <c>s3:s3.REGION.amazonaws.com/bucket</c>, <c>s3:host/bucket</c> (https).
    /// An AWS host gives AWS defaults (region from the host, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1);
    /// any other host gives <see cref="S3StoreOptions.ForCompatibleServer"/>'s settings. Credentials in the URL are refused.
    /// </summary>
    public static S3StoreOptions ParseUrl(string url)
    {
        const string usage = "an S3 repository is written s3:https://host/bucket/prefix, s3:http://host:port/bucket or s3:s3.amazonaws.com/bucket/prefix";
        if (!url.StartsWith("s3:", StringComparison.Ordinal))
        {
            throw new ArgumentException(usage, nameof(url));
        }
        string rest = url[3..];
        string scheme = "https";
        if (rest.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            int sep = rest.IndexOf("://", StringComparison.Ordinal);
            scheme = rest[..sep].ToLowerInvariant();
            rest = rest[(sep + 3)..];
        }
        else if (rest.StartsWith("//", StringComparison.Ordinal))
        {
            throw new ArgumentException(usage + " (s3://bucket is not supported: write s3:s3.amazonaws.com/bucket)", nameof(url));
        }
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash < 0 ? rest : rest[..slash];
        string path = slash < 0 ? "" : rest[(slash + 1)..];
        if (authority.Contains('@', StringComparison.Ordinal))
        {
            throw new ArgumentException("credentials do not belong in the repository URL: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", nameof(url));
        }
        if (authority.Length == 0 || !Uri.TryCreate($"{scheme}://{authority}/", UriKind.Absolute, out Uri? endpoint))
        {
            throw new ArgumentException(usage, nameof(url));
        }
        path = path.Trim('/');
        int bucketEnd = path.IndexOf('/', StringComparison.Ordinal);
        string bucket = Uri.UnescapeDataString(bucketEnd < 0 ? path : path[..bucketEnd]);
        string prefix = bucketEnd < 0 ? "" : Uri.UnescapeDataString(path[(bucketEnd + 1)..]);
        if (bucket.Length == 0)
        {
            throw new ArgumentException(usage + " (the bucket is missing)", nameof(url));
        }

        string host = endpoint.Host.ToLowerInvariant();
        if (host.EndsWith(".amazonaws.com", StringComparison.Ordinal) && endpoint.IsDefaultPort && scheme == "https")
        {
            string? region = RegionOfAwsHost(host)
                ?? NullIfEmpty(Environment.GetEnvironmentVariable("AWS_REGION"))
                ?? NullIfEmpty(Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION"));
            return new S3StoreOptions { Bucket = bucket, Prefix = prefix, Region = region ?? "us-east-1" };
        }
        return S3StoreOptions.ForCompatibleServer($"{scheme}://{endpoint.Authority}", bucket, prefix);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>"s3.eu-west-1.amazonaws.com" / "s3-eu-west-1.amazonaws.com" → "eu-west-1"; "s3.amazonaws.com" → null.</summary>
    private static string? RegionOfAwsHost(string host)
    {
        string[] labels = host[..^".amazonaws.com".Length].Split('.');
        foreach (string label in labels)
        {
            if (label.StartsWith("s3-", StringComparison.Ordinal) && label.Length > 3 && label != "s3-external-1")
            {
                return label[3..];
            }
        }
        return labels.Length >= 2 && labels[0] == "s3" && labels[1] != "dualstack" ? labels[1]
            : labels.Length >= 3 && labels[0] == "s3" && labels[1] == "dualstack" ? labels[2]
            : null;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The bucket cannot get Object Lock retention as asked; the message says what to do instead.</summary>
public sealed class ObjectLockUnavailableException(string message) : Exception(message);
