using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Sources.Buckets;

namespace Strata.Stores.S3;

/// <summary>
/// A versioned S3 bucket (or a folder in one) as a source of restoration points. Uses the same options, client
/// setup and credentials (the SDK's default chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...) as
/// <see cref="S3Store"/>. Restoring a version is a CopyObject of the version onto its own key; objects larger than
/// <see cref="CopyPartSize"/> (S3's single-copy limit is 5 GiB) are copied in parts.
/// </summary>
public sealed class S3VersionedBucket : IVersionedBucket
{
    private readonly IAmazonS3 _client;
    private readonly S3StoreOptions _options;
    private readonly string _endpoint;

    public S3VersionedBucket(S3StoreOptions options, AWSCredentials? credentials = null)
    {
        options.Validate();
        _options = options;
        _endpoint = S3Store.DisplayEndpoint(options);
        Prefix = options.NormalizedPrefix;
        Location = $"s3:{_endpoint}/{options.Bucket}" + (Prefix.Length > 0 ? "/" + Prefix.TrimEnd('/') : "");
        _client = S3Clients.Create(options, credentials, null, Location);
    }

    public string Location { get; }
    public string Bucket => _options.Bucket;
    public string Prefix { get; }

    /// <summary>Objects above this size are restored with a multipart copy in parts of this size (S3 copies at most 5 GiB at once).</summary>
    public long CopyPartSize { get; init; } = 1L << 30;

    private StoreException Classify(Exception e, string what) => S3Store.Classify(e, $"{what} in {Location}", _options.Bucket, _endpoint);

    public async Task<VersioningState> GetVersioningAsync(CancellationToken ct)
    {
        try
        {
            GetBucketVersioningResponse r = await _client.GetBucketVersioningAsync(new GetBucketVersioningRequest { BucketName = Bucket }, ct).ConfigureAwait(false);
            string? status = r.VersioningConfig?.Status?.Value;
            return status == VersionStatus.Enabled.Value ? VersioningState.Enabled
                : status == VersionStatus.Suspended.Value ? VersioningState.Suspended
                : VersioningState.Off;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the versioning state");
        }
    }

    public async Task EnableVersioningAsync(CancellationToken ct)
    {
        try
        {
            await _client.PutBucketVersioningAsync(new PutBucketVersioningRequest
            {
                BucketName = Bucket,
                VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "enabling versioning");
        }
    }

    public async IAsyncEnumerable<BucketVersion> ListVersionsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        string? keyMarker = null;
        string? versionMarker = null;
        while (true)
        {
            ListVersionsResponse page;
            try
            {
                page = await _client.ListVersionsAsync(new ListVersionsRequest
                {
                    BucketName = Bucket,
                    Prefix = Prefix,
                    KeyMarker = keyMarker,
                    VersionIdMarker = versionMarker,
                    MaxKeys = 1000,
                }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not StoreException)
            {
                ct.ThrowIfCancellationRequested();
                throw Classify(e, "listing versions");
            }
            foreach (S3ObjectVersion v in page.Versions ?? [])
            {
                yield return new BucketVersion(
                    v.Key,
                    string.IsNullOrEmpty(v.VersionId) ? "null" : v.VersionId,
                    v.IsLatest ?? false,
                    v.IsDeleteMarker ?? false,
                    v.Size ?? 0,
                    v.ETag ?? "",
                    v.LastModified is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t.ToUniversalTime(), DateTimeKind.Utc)) : null);
            }
            if (page.IsTruncated != true)
            {
                yield break;
            }
            if (page.NextKeyMarker == keyMarker && page.NextVersionIdMarker == versionMarker)
            {
                throw new PermanentStoreException($"listing versions in {Location}: the server returned the same page marker twice");
            }
            keyMarker = page.NextKeyMarker;
            versionMarker = page.NextVersionIdMarker;
        }
    }

    public async Task RestoreVersionAsync(string key, string versionId, long size, CancellationToken ct)
    {
        try
        {
            if (size > CopyPartSize)
            {
                await CopyInPartsAsync(key, versionId, size, ct).ConfigureAwait(false);
                return;
            }
            await _client.CopyObjectAsync(new CopyObjectRequest
            {
                SourceBucket = Bucket,
                SourceKey = key,
                SourceVersionId = versionId,
                DestinationBucket = Bucket,
                DestinationKey = key,
                MetadataDirective = S3MetadataDirective.COPY,
            }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (IsMissingVersion(e))
        {
            throw new BucketVersionMissingException(key, versionId, e);
        }
        catch (Exception e) when (e is not (StoreException or BucketVersionMissingException))
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"restoring version {versionId} of '{key}'");
        }
    }

    // A missing source version: 404 (NoSuchVersion / NoSuchKey), or AWS's 400 InvalidArgument for an unknown version id.
    private static bool IsMissingVersion(AmazonS3Exception e) =>
        e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"
        || e.ErrorCode is "NoSuchVersion" or "InvalidArgument" && e.Message.Contains("version", StringComparison.OrdinalIgnoreCase);

    /// <summary>A multipart copy keeps no metadata by itself: the upload is started with the version's content type and user metadata.</summary>
    private async Task CopyInPartsAsync(string key, string versionId, long size, CancellationToken ct)
    {
        GetObjectMetadataResponse head = await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = Bucket, Key = key, VersionId = versionId }, ct).ConfigureAwait(false);
        var start = new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key, ContentType = head.Headers.ContentType };
        foreach (string k in head.Metadata.Keys)
        {
            start.Metadata.Add(k, head.Metadata[k]);
        }
        InitiateMultipartUploadResponse upload = await _client.InitiateMultipartUploadAsync(start, ct).ConfigureAwait(false);
        try
        {
            var parts = new List<PartETag>();
            int number = 1;
            for (long at = 0; at < size; at += CopyPartSize, number++)
            {
                CopyPartResponse part = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = Bucket,
                    SourceKey = key,
                    SourceVersionId = versionId,
                    DestinationBucket = Bucket,
                    DestinationKey = key,
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    FirstByte = at,
                    LastByte = Math.Min(size, at + CopyPartSize) - 1,
                }, ct).ConfigureAwait(false);
                parts.Add(new PartETag(number, part.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = upload.UploadId, PartETags = parts }, ct).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await _client.AbortMultipartUploadAsync(Bucket, key, upload.UploadId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonServiceException)
            {
                // the original error matters; an unfinished upload is removed by the bucket's lifecycle rules
            }
            throw;
        }
    }

    public async Task AddDeleteMarkerAsync(string key, CancellationToken ct)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"deleting '{key}'");
        }
    }

    public async Task DeleteVersionAsync(string key, string versionId, CancellationToken ct)
    {
        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key, VersionId = versionId }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // already gone
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"deleting version {versionId} of '{key}'");
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
