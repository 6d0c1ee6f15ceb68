using Strata.Repository;

namespace Strata.Sources.Buckets;

public enum BucketActionKind
{
    /// <summary>Copy the recorded version onto the key as its new current version.</summary>
    Copy,
    /// <summary>The key did not exist at the point: add a delete marker (every version stays).</summary>
    Delete,
}

/// <param name="Current">The key's current version now, if it exists.</param>
public sealed record BucketAction(BucketActionKind Kind, string Key, string? VersionId, long Size, string? Current);

/// <summary>What a restore does: the keys to change, and how many already match the point.</summary>
public sealed record BucketRestorePlan(BucketPointRef Point, IReadOnlyList<BucketAction> Actions, long Unchanged)
{
    public int Copies => Actions.Count(a => a.Kind == BucketActionKind.Copy);
    public int Deletes => Actions.Count(a => a.Kind == BucketActionKind.Delete);
    public long CopyBytes => Actions.Where(a => a.Kind == BucketActionKind.Copy).Sum(a => a.Size);
}

public sealed record BucketRestoreFailure(BucketAction Action, string Message);

public sealed record BucketRestoreResult(int Copied, int Deleted, long Unchanged, IReadOnlyList<BucketRestoreFailure> Failures);

/// <summary>
/// Puts a bucket back to a restoration point. The plan is a merge of the point's entries with the bucket's current
/// state, both in key order, so memory grows with the keys that differ, not with the bucket. A key is unchanged when
/// its current version is the recorded one, or has the recorded ETag and size (the same bytes: after an earlier
/// restore the current version is a copy with a new id). Nothing is ever removed for good: changed keys get the old
/// version copied back as a new version, extra keys get a delete marker.
/// </summary>
public static class BucketRestorer
{
    public static async Task<BucketRestorePlan> PlanAsync(Repo repo, BucketPointRef point, IVersionedBucket bucket, CancellationToken ct)
    {
        var actions = new List<BucketAction>();
        long unchanged = 0;
        await using var recorded = await KeyCursor<BucketEntry>.OpenAsync(BucketPoints.ReadEntriesAsync(repo, point, ct), e => e.Key, point.Name.Path, ct).ConfigureAwait(false);
        await using var current = await KeyCursor<BucketEntry>.OpenAsync(BucketSnapshotter.CurrentEntriesAsync(bucket, ct), e => e.Key, bucket.Location, ct).ConfigureAwait(false);
        while (KeyCursor<BucketEntry>.MinKey([recorded, current]) is { } key)
        {
            BucketEntry? then = recorded.HasCurrent && recorded.Key == key ? recorded.Current : null;
            BucketEntry? now = current.HasCurrent && current.Key == key ? current.Current : null;
            if (then is { } t && now is { } n)
            {
                bool same = t.VersionId == n.VersionId || (t.ETag.Length > 0 && t.ETag == n.ETag && t.Size == n.Size);
                if (same)
                {
                    unchanged++;
                }
                else
                {
                    actions.Add(new BucketAction(BucketActionKind.Copy, key, t.VersionId, t.Size, n.VersionId));
                }
            }
            else if (then is { } t2)
            {
                actions.Add(new BucketAction(BucketActionKind.Copy, key, t2.VersionId, t2.Size, null));
            }
            else if (now is { } n2)
            {
                actions.Add(new BucketAction(BucketActionKind.Delete, key, null, n2.Size, n2.VersionId));
            }
            if (then is not null)
            {
                await recorded.MoveNextAsync().ConfigureAwait(false);
            }
            if (now is not null)
            {
                await current.MoveNextAsync().ConfigureAwait(false);
            }
        }
        return new BucketRestorePlan(point, actions, unchanged);
    }

    /// <summary>
    /// Carries out a plan, <paramref name="parallel"/> requests at a time. A key that fails (its recorded version was
    /// deleted behind our back, or the server refuses) is reported in the result; the other keys are still restored.
    /// </summary>
    public static async Task<BucketRestoreResult> ExecuteAsync(BucketRestorePlan plan, IVersionedBucket bucket, int parallel, Action<BucketAction>? done, CancellationToken ct)
    {
        var failures = new List<BucketRestoreFailure>();
        int copied = 0, deleted = 0;
        await Parallel.ForEachAsync(plan.Actions, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel), CancellationToken = ct }, async (a, c) =>
        {
            try
            {
                if (a.Kind == BucketActionKind.Copy)
                {
                    await bucket.RestoreVersionAsync(a.Key, a.VersionId!, a.Size, c).ConfigureAwait(false);
                    Interlocked.Increment(ref copied);
                }
                else
                {
                    await bucket.AddDeleteMarkerAsync(a.Key, c).ConfigureAwait(false);
                    Interlocked.Increment(ref deleted);
                }
                done?.Invoke(a);
            }
            catch (Exception e) when (e is BucketVersionMissingException or Strata.Stores.StoreException)
            {
                lock (failures)
                {
                    failures.Add(new BucketRestoreFailure(a, e.Message));
                }
            }
        }).ConfigureAwait(false);
        failures.Sort((x, y) => KeyOrder.Instance.Compare(x.Action.Key, y.Action.Key));
        return new BucketRestoreResult(copied, deleted, plan.Unchanged, failures);
    }
}
