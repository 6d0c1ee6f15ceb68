namespace Strata.Sources.Buckets;

/// <summary>One current object of a bucket, as a listing reports it (ETag without its quotes).</summary>
public sealed record BucketObject(string Key, long Size, string ETag, DateTimeOffset LastModified, string? StorageClass);

/// <summary>An object being read: its bytes as a stream (never buffered whole) and what the read's answer said about it.</summary>
/// <param name="VersionId">The version read; null in a bucket that never had versioning.</param>
/// <param name="Metadata">User metadata (x-amz-meta-NAME) by NAME, sorted by name.</param>
public sealed record BucketObjectRead(Stream Data, string ETag, DateTimeOffset LastModified, string? VersionId, string? ContentType, IReadOnlyList<KeyValuePair<string, string>> Metadata);

/// <summary>
/// Reads the current objects of a bucket (or of a folder in one), for copying them into a repository. Versioning is
/// not needed. Implemented for S3 by Strata.Stores.S3's S3BucketReader. Members throw the store exceptions
/// (transient / permanent, with messages naming the bucket).
/// </summary>
public interface IBucketReader : IAsyncDisposable
{
    /// <summary>"s3:http://host:port/bucket/prefix", without secrets.</summary>
    string Location { get; }

    string Bucket { get; }

    /// <summary>"" or "folder/": only keys under it are read.</summary>
    string Prefix { get; }

    /// <summary>Every current object under <see cref="Prefix"/>, paginated, keys in S3's order (<see cref="KeyOrder"/>).</summary>
    IAsyncEnumerable<BucketObject> ListAsync(CancellationToken ct);

    /// <summary>
    /// Starts reading an object. The stream resumes by itself after a broken connection (a ranged read of the same
    /// ETag), so a change of the object during the read is an error rather than mixed content.
    /// </summary>
    Task<BucketObjectRead> OpenAsync(BucketObject obj, CancellationToken ct);
}
