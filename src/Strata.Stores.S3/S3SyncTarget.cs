using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Sync;

namespace Strata.Stores.S3;

/// <summary>
/// An S3 bucket (or a folder in one) as a sync target: each file is an object under prefix + its relative path,
/// readable by any S3 tool. Same options, client setup and credentials as <see cref="S3Store"/>. Files above
/// <see cref="MultipartThreshold"/> go up in parts read straight from the file; a move is a copy then a delete.
/// </summary>
public sealed class S3SyncTarget : ISyncTarget
{
    private readonly IAmazonS3 _client;
    private readonly S3StoreOptions _options;
    private readonly string _prefix;
    private readonly string _endpoint;

    public S3SyncTarget(S3StoreOptions options, AWSCredentials? credentials = null)
    {
        options.Validate();
        _options = options;
        _prefix = options.NormalizedPrefix;
        _endpoint = S3Store.DisplayEndpoint(options);
        Location = $"s3:{_endpoint}/{options.Bucket}" + (_prefix.Length > 0 ? "/" + _prefix.TrimEnd('/') : "");
        _client = S3Clients.Create(options, credentials, null, Location);
    }

    public string Location { get; }

    /// <summary>Files larger than this are uploaded in parts of <see cref="PartSize"/>.</summary>
    public long MultipartThreshold { get; init; } = 64L << 20;

    public long PartSize { get; init; } = 64L << 20;

    /// <summary>S3 copies at most 5 GiB in one CopyObject; a larger move copies in parts.</summary>
    private const long MaxSingleCopy = 5L << 30;

    private string Key(string rel) => _prefix + rel;

    private StoreException Classify(Exception e, string what) => S3Store.Classify(e, $"{what} in {Location}", _options.Bucket, _endpoint);

    public async Task PrepareAsync(CancellationToken ct)
    {
        // Proves the bucket exists and the credentials may write, before anything is compared or moved.
        string probe = Key($".strata-sync/.probe-{Guid.NewGuid():N}");
        try
        {
            await _client.PutObjectAsync(new PutObjectRequest { BucketName = _options.Bucket, Key = probe, ContentBody = "", UseChunkEncoding = _options.UseChunkEncoding }, ct).ConfigureAwait(false);
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = probe }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "writing a test object");
        }
    }

    public async Task<byte[]?> ReadManifestAsync(CancellationToken ct)
    {
        try
        {
            using GetObjectResponse r = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = Key(ISyncTarget.ManifestPath) }, ct).ConfigureAwait(false);
            using var ms = new MemoryStream();
            await r.ResponseStream.CopyToAsync(ms, ct).ConfigureAwait(false);
            return ms.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return null;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the sync manifest");
        }
    }

    public async Task WriteManifestAsync(byte[] content, CancellationToken ct)
    {
        try
        {
            using var ms = new MemoryStream(content, writable: false);
            await _client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = Key(ISyncTarget.ManifestPath),
                InputStream = ms,
                UseChunkEncoding = _options.UseChunkEncoding,
                ContentType = "application/gzip",
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "writing the sync manifest");
        }
    }

    public async IAsyncEnumerable<SyncTargetFile> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            ListObjectsV2Response page;
            try
            {
                page = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = _prefix, ContinuationToken = token }, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not StoreException)
            {
                ct.ThrowIfCancellationRequested();
                throw Classify(e, "listing");
            }
            foreach (S3Object o in page.S3Objects ?? [])
            {
                string rel = o.Key[_prefix.Length..];
                if (rel.Length == 0 || rel.EndsWith('/') || rel.StartsWith(ISyncTarget.TrashFolder + "/", StringComparison.Ordinal) || rel.StartsWith(".strata-sync/", StringComparison.Ordinal))
                {
                    continue;
                }
                yield return new SyncTargetFile(rel, o.Size ?? 0);
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public async Task PutFileAsync(string path, string localFile, long size, DateTimeOffset modified, CancellationToken ct)
    {
        try
        {
            if (size <= MultipartThreshold)
            {
                await _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = _options.Bucket,
                    Key = Key(path),
                    FilePath = localFile,
                    UseChunkEncoding = _options.UseChunkEncoding,
                }, ct).ConfigureAwait(false);
                return;
            }
            await PutInPartsAsync(path, localFile, size, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"uploading {path}");
        }
    }

    private async Task PutInPartsAsync(string path, string localFile, long size, CancellationToken ct)
    {
        InitiateMultipartUploadResponse upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = Key(path) }, ct).ConfigureAwait(false);
        try
        {
            var parts = new List<PartETag>();
            int number = 1;
            for (long at = 0; at < size; at += PartSize, number++)
            {
                UploadPartResponse part = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _options.Bucket,
                    Key = Key(path),
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    FilePath = localFile,
                    FilePosition = at,
                    PartSize = Math.Min(PartSize, size - at),
                    UseChunkEncoding = _options.UseChunkEncoding,
                }, ct).ConfigureAwait(false);
                parts.Add(new PartETag(number, part.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = _options.Bucket, Key = Key(path), UploadId = upload.UploadId, PartETags = parts }, ct).ConfigureAwait(false);
        }
        catch
        {
            await AbortQuietlyAsync(Key(path), upload.UploadId).ConfigureAwait(false);
            throw;
        }
    }

    private async Task AbortQuietlyAsync(string key, string uploadId)
    {
        try
        {
            await _client.AbortMultipartUploadAsync(_options.Bucket, key, uploadId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (AmazonServiceException)
        {
            // the original error matters; a lifecycle rule removes unfinished uploads
        }
    }

    public async Task MoveAsync(string from, string to, long size, CancellationToken ct)
    {
        try
        {
            if (size <= MaxSingleCopy)
            {
                await _client.CopyObjectAsync(new CopyObjectRequest
                {
                    SourceBucket = _options.Bucket,
                    SourceKey = Key(from),
                    DestinationBucket = _options.Bucket,
                    DestinationKey = Key(to),
                    MetadataDirective = S3MetadataDirective.COPY,
                }, ct).ConfigureAwait(false);
            }
            else
            {
                await CopyInPartsAsync(Key(from), Key(to), size, ct).ConfigureAwait(false);
            }
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = Key(from) }, ct).ConfigureAwait(false);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // already moved (an interrupted earlier run) or removed by someone else: nothing to keep
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, $"moving {from} to {to}");
        }
    }

    private async Task CopyInPartsAsync(string from, string to, long size, CancellationToken ct)
    {
        InitiateMultipartUploadResponse upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = to }, ct).ConfigureAwait(false);
        try
        {
            var parts = new List<PartETag>();
            const long part = 1L << 30;
            int number = 1;
            for (long at = 0; at < size; at += part, number++)
            {
                CopyPartResponse r = await _client.CopyPartAsync(new CopyPartRequest
                {
                    SourceBucket = _options.Bucket,
                    SourceKey = from,
                    DestinationBucket = _options.Bucket,
                    DestinationKey = to,
                    UploadId = upload.UploadId,
                    PartNumber = number,
                    FirstByte = at,
                    LastByte = Math.Min(size, at + part) - 1,
                }, ct).ConfigureAwait(false);
                parts.Add(new PartETag(number, r.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = _options.Bucket, Key = to, UploadId = upload.UploadId, PartETags = parts }, ct).ConfigureAwait(false);
        }
        catch
        {
            await AbortQuietlyAsync(to, upload.UploadId).ConfigureAwait(false);
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
