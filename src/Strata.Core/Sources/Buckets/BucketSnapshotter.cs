using System.Runtime.CompilerServices;
using Strata.Repository;

namespace Strata.Sources.Buckets;

/// <summary>Takes restoration points: records each key's current version; copies no data.</summary>
public static class BucketSnapshotter
{
    /// <summary>Refuses a bucket whose versioning is not enabled, saying how to enable it.</summary>
    public static async Task RequireVersioningAsync(IVersionedBucket bucket, CancellationToken ct)
    {
        VersioningState state = await bucket.GetVersioningAsync(ct).ConfigureAwait(false);
        if (state != VersioningState.Enabled)
        {
            string was = state == VersioningState.Suspended ? "is suspended" : "is not enabled";
            throw new UserInputException(
                $"versioning {was} on bucket {bucket.Bucket} ({bucket.Location}): restoration points need a versioned bucket, since they keep old versions instead of copies. "
                + $"Enable it with 'strata bucket enable-versioning {bucket.Location}' or 'aws s3api put-bucket-versioning --bucket {bucket.Bucket} --versioning-configuration Status=Enabled' "
                + $"(or copy the objects into the repository instead, which needs no versioning: 'strata bucket snapshot --copy {bucket.Location}')");
        }
    }

    /// <summary>The current version of every key that exists (a key whose current version is a delete marker is absent), in listing order.</summary>
    public static async IAsyncEnumerable<BucketEntry> CurrentEntriesAsync(IVersionedBucket bucket, [EnumeratorCancellation] CancellationToken ct)
    {
        string? last = null;
        await foreach (BucketVersion v in bucket.ListVersionsAsync(ct).ConfigureAwait(false))
        {
            if (!v.IsLatest || v.IsDeleteMarker)
            {
                continue;
            }
            if (last is not null && KeyOrder.Instance.Compare(v.Key, last) <= 0)
            {
                throw new Strata.Stores.PermanentStoreException($"{bucket.Location} lists '{v.Key}' after '{last}': the listing is out of order or repeats a current version");
            }
            last = v.Key;
            yield return new BucketEntry(v.Key, v.VersionId, v.Size, v.ETag);
        }
    }

    public static async Task<BucketPointRef> TakeAsync(Repo repo, IVersionedBucket bucket, string host, IReadOnlyList<string> tags, DateTimeOffset time, CancellationToken ct)
    {
        await RequireVersioningAsync(bucket, ct).ConfigureAwait(false);
        var header = new BucketPointHeader
        {
            Time = time,
            Location = bucket.Location,
            Bucket = bucket.Bucket,
            Prefix = bucket.Prefix,
            Host = host,
            Tags = tags,
        };
        return await BucketPoints.WriteAsync(repo, header, CurrentEntriesAsync(bucket, ct), ct).ConfigureAwait(false);
    }
}
