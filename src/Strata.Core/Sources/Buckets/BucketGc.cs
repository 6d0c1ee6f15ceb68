using Strata.Repository;

namespace Strata.Sources.Buckets;

/// <summary>One noncurrent version that only removed points referenced.</summary>
public sealed record BucketVersionRef(string Location, string Key, string VersionId, long Size);

/// <summary>What gc removes: points past retention (never below the minimum per source), then the versions only they needed.</summary>
public sealed record BucketGcPlan(IReadOnlyList<BucketPointRef> Keep, IReadOnlyList<BucketPointRef> Remove, IReadOnlyList<BucketVersionRef> Versions)
{
    public long VersionBytes => Versions.Sum(v => v.Size);
}

/// <summary>
/// Garbage collection of restoration points and the object versions they kept alive.
/// <para>Points: grouped by source (their recorded location); in each group a point is removed when it is older than
/// the retention and more than <c>minKeep</c> newer points of the group remain.</para>
/// <para>Versions: a version is deleted only when a removed point references it, no kept point of the same bucket
/// (any prefix) references it, it is not the key's current version, and the bucket still lists it. Versions no point
/// ever referenced are left alone (a lifecycle rule is the tool for those). Versions are deleted before the points,
/// so an interrupted gc is finished by running it again.</para>
/// </summary>
public static class BucketGc
{
    public static (List<BucketPointRef> Keep, List<BucketPointRef> Remove) SelectPoints(IEnumerable<BucketPointRef> points, TimeSpan retention, int minKeep, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minKeep);
        DateTimeOffset cutoff = now - retention;
        var keep = new List<BucketPointRef>();
        var remove = new List<BucketPointRef>();
        foreach (var group in points.GroupBy(p => p.Header.Location))
        {
            var newestFirst = group.OrderByDescending(p => p.Header.Time).ThenByDescending(p => p.Id, StringComparer.Ordinal).ToList();
            for (int i = 0; i < newestFirst.Count; i++)
            {
                (i < minKeep || newestFirst[i].Header.Time >= cutoff ? keep : remove).Add(newestFirst[i]);
            }
        }
        return (keep, remove);
    }

    /// <param name="open">Opens the bucket of a recorded location (the caller owns and disposes it).</param>
    public static async Task<BucketGcPlan> PlanAsync(Repo repo, IReadOnlyList<BucketPointRef> points, TimeSpan retention, int minKeep, DateTimeOffset now,
        Func<string, IVersionedBucket> open, CancellationToken ct)
    {
        var (keep, remove) = SelectPoints(points, retention, minKeep, now);
        var versions = new List<BucketVersionRef>();
        // One pass per source of removed points: its listing, merged with its removed points and every kept point of the same bucket.
        foreach (var source in remove.GroupBy(p => p.Header.Location))
        {
            BucketPointRef first = source.First();
            var keptSameBucket = keep.Where(k => SameBucket(k.Header, first.Header)).ToList();
            await using IVersionedBucket bucket = open(source.Key);
            versions.AddRange(await UnreferencedAsync(repo, bucket, [.. source], keptSameBucket, ct).ConfigureAwait(false));
        }
        // Two removed sources of one bucket (whole bucket and a folder) may both find a version: delete it once.
        var unique = versions.DistinctBy(v => (BucketOf(v.Location), v.Key, v.VersionId)).ToList();
        return new BucketGcPlan(keep, remove, unique);
    }

    private static bool SameBucket(BucketPointHeader a, BucketPointHeader b) => BucketOf(a.Location) == BucketOf(b.Location);

    /// <summary>The location without its prefix: endpoint and bucket. Prefix = location minus the recorded prefix.</summary>
    private static string BucketOf(string location)
    {
        // "s3:http://host:port/bucket/prefix..." → "s3:http://host:port/bucket"
        int scheme = location.IndexOf("://", StringComparison.Ordinal);
        int start = scheme >= 0 ? scheme + 3 : location.IndexOf(':', StringComparison.Ordinal) + 1;
        int hostEnd = location.IndexOf('/', start);
        if (hostEnd < 0)
        {
            return location;
        }
        int bucketEnd = location.IndexOf('/', hostEnd + 1);
        return bucketEnd < 0 ? location : location[..bucketEnd];
    }

    private static async Task<List<BucketVersionRef>> UnreferencedAsync(Repo repo, IVersionedBucket bucket, List<BucketPointRef> removed, List<BucketPointRef> kept, CancellationToken ct)
    {
        var result = new List<BucketVersionRef>();
        var removedCursors = new List<KeyCursor<BucketEntry>>();
        var keptCursors = new List<KeyCursor<BucketEntry>>();
        KeyCursor<BucketVersion>? listing = null;
        try
        {
            foreach (var p in removed)
            {
                removedCursors.Add(await KeyCursor<BucketEntry>.OpenAsync(BucketPoints.ReadEntriesAsync(repo, p, ct), e => e.Key, p.Name.Path, ct).ConfigureAwait(false));
            }
            foreach (var p in kept)
            {
                keptCursors.Add(await KeyCursor<BucketEntry>.OpenAsync(BucketPoints.ReadEntriesAsync(repo, p, ct), e => e.Key, p.Name.Path, ct).ConfigureAwait(false));
            }
            listing = await KeyCursor<BucketVersion>.OpenAsync(bucket.ListVersionsAsync(ct), v => v.Key, bucket.Location, ct).ConfigureAwait(false);
            // Driven by the removed points: only their keys can yield a candidate.
            while (KeyCursor<BucketEntry>.MinKey(removedCursors) is { } key)
            {
                var candidates = new HashSet<string>(StringComparer.Ordinal);
                foreach (var c in removedCursors)
                {
                    foreach (BucketEntry e in await c.TakeKeyAsync(key).ConfigureAwait(false))
                    {
                        candidates.Add(e.VersionId);
                    }
                }
                foreach (var c in keptCursors)
                {
                    await SkipBeforeAsync(c, key).ConfigureAwait(false);
                    foreach (BucketEntry e in await c.TakeKeyAsync(key).ConfigureAwait(false))
                    {
                        candidates.Remove(e.VersionId);
                    }
                }
                await SkipBeforeAsync(listing, key).ConfigureAwait(false);
                foreach (BucketVersion v in await listing.TakeKeyAsync(key).ConfigureAwait(false))
                {
                    // Only versions the bucket still has, never the current one, never a delete marker.
                    if (!v.IsLatest && !v.IsDeleteMarker && candidates.Contains(v.VersionId))
                    {
                        result.Add(new BucketVersionRef(bucket.Location, key, v.VersionId, v.Size));
                    }
                }
            }
            return result;
        }
        finally
        {
            foreach (var c in removedCursors.Concat(keptCursors))
            {
                await c.DisposeAsync().ConfigureAwait(false);
            }
            if (listing is not null)
            {
                await listing.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task SkipBeforeAsync<T>(KeyCursor<T> c, string key)
    {
        while (c.HasCurrent && KeyOrder.Instance.Compare(c.Key, key) < 0)
        {
            await c.MoveNextAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Deletes the versions, then the points. Returns the versions that could not be deleted (the points stay then).</summary>
    public static async Task<List<(BucketVersionRef Version, string Error)>> ExecuteAsync(Repo repo, BucketGcPlan plan, Func<string, IVersionedBucket> open, int parallel, CancellationToken ct)
    {
        var failures = new List<(BucketVersionRef, string)>();
        foreach (var group in plan.Versions.GroupBy(v => v.Location))
        {
            await using IVersionedBucket bucket = open(group.Key);
            await Parallel.ForEachAsync(group, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel), CancellationToken = ct }, async (v, c) =>
            {
                try
                {
                    await bucket.DeleteVersionAsync(v.Key, v.VersionId, c).ConfigureAwait(false);
                }
                catch (Strata.Stores.StoreException e)
                {
                    lock (failures)
                    {
                        failures.Add((v, e.Message));
                    }
                }
            }).ConfigureAwait(false);
        }
        if (failures.Count > 0)
        {
            // Keep every point: a rerun plans the same versions again, minus the ones already gone.
            return failures;
        }
        foreach (var p in plan.Remove)
        {
            await BucketPoints.DeleteAsync(repo, p, ct).ConfigureAwait(false);
        }
        return failures;
    }
}
