namespace Strata.Sources.Buckets;

/// <summary>One version (or delete marker) of one key, as a versioned bucket lists it.</summary>
/// <param name="IsLatest">This is the key's current state (an object, or a delete marker meaning the key is absent).</param>
public sealed record BucketVersion(string Key, string VersionId, bool IsLatest, bool IsDeleteMarker, long Size, string ETag, DateTimeOffset? LastModified);

/// <summary>What a restoration point records for one key: the version that was current.</summary>
public readonly record struct BucketEntry(string Key, string VersionId, long Size, string ETag);

/// <summary>A bucket's versioning state as S3 reports it.</summary>
public enum VersioningState
{
    /// <summary>Never enabled: every overwrite and delete loses the old bytes.</summary>
    Off,
    Enabled,
    /// <summary>Was enabled, now suspended: new writes replace the "null" version, so the old bytes are lost again.</summary>
    Suspended,
}

/// <summary>
/// The operations restoration points need from a versioned bucket (or a folder inside one). Implemented for S3 by
/// Strata.Stores.S3's S3VersionedBucket. Every member may throw the store exceptions (transient / permanent).
/// </summary>
public interface IVersionedBucket : IAsyncDisposable
{
    /// <summary>"s3:http://host:port/bucket/prefix", without secrets: what points record and messages show.</summary>
    string Location { get; }

    string Bucket { get; }

    /// <summary>"" or "folder/": only keys under it belong to the source.</summary>
    string Prefix { get; }

    Task<VersioningState> GetVersioningAsync(CancellationToken ct);

    Task EnableVersioningAsync(CancellationToken ct);

    /// <summary>
    /// Every version and delete marker under <see cref="Prefix"/>, paginated, keys in S3's order (UTF-8 bytes, see
    /// <see cref="KeyOrder"/>), newest version first within a key.
    /// </summary>
    IAsyncEnumerable<BucketVersion> ListVersionsAsync(CancellationToken ct);

    /// <summary>
    /// Makes <paramref name="versionId"/> the key's current version again by copying it onto the key (the copy is a
    /// new version; the old one stays). Throws <see cref="BucketVersionMissingException"/> when the version is gone.
    /// </summary>
    Task RestoreVersionAsync(string key, string versionId, long size, CancellationToken ct);

    /// <summary>Deletes the key without a version id: in a versioned bucket that adds a delete marker and keeps every version.</summary>
    Task AddDeleteMarkerAsync(string key, CancellationToken ct);

    /// <summary>Deletes one version for good. Deleting a version that is already gone is a success.</summary>
    Task DeleteVersionAsync(string key, string versionId, CancellationToken ct);
}

/// <summary>A recorded version no longer exists in the bucket (deleted behind the point's back).</summary>
public sealed class BucketVersionMissingException(string key, string versionId, Exception? inner = null)
    : Exception($"version {versionId} of '{key}' no longer exists in the bucket (it was deleted after the point was taken)", inner)
{
    public string Key { get; } = key;
    public string VersionId { get; } = versionId;
}
