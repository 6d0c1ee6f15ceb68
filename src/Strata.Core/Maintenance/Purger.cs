using Strata.Crypto;
using Strata.Index;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What one purge did.</summary>
/// <param name="Deleted">Packs deleted (with their catalogs).</param>
/// <param name="Waiting">Deletable packs kept because deleting them now would bill an early-deletion fee.</param>
/// <param name="FeesUsd">Early-deletion fees of the deleted packs (only with acceptEarlyDeletionFee).</param>
public sealed record PurgeResult(
    IReadOnlyList<PackPlan> Deleted,
    IReadOnlyList<PackPlan> Waiting,
    decimal FeesUsd,
    long BytesDeleted,
    string? IndexSegment,
    int SegmentsRemoved,
    int RecordsRemoved);

/// <summary>
/// Deletes what no snapshot uses: wholly dead packs (superseded packs whose live blobs compaction copied are among
/// them) and old orphan packs, each once its minimum storage duration has passed, or sooner when the early-deletion fee
/// is accepted. Run under the exclusive lock. Order, so that a kill at any point leaves every snapshot readable and the
/// next purge finishes the job (docs/format.md §16):
/// 1. a deletion record (reason purge) names the packs to delete: from then on no index load uses them;
/// 2. one new index segment lists every pack that stays, with its full catalog;
/// 3. the catalogs, then the packs are deleted;
/// 4. the old index segments are deleted;
/// 5. a new compact record keeps the superseded packs still waiting; the old deletion records are deleted.
/// A pack is deleted only if the plan found no used blob whose only copy it holds, and nothing is deleted when a used
/// blob is missing from the index (the plan cannot tell what is dead then).
/// </summary>
public static class Purger
{
    public static async Task<PurgeResult> RunAsync(Repo repo, PrunePlan plan, bool acceptEarlyDeletionFee, Action<string>? log, CancellationToken ct)
    {
        repo.RequireOwner("purging");
        if (plan.Live.Missing.Count > 0)
        {
            throw new CorruptionException($"{plan.Live.Missing.Count} blobs that snapshots use are not in the index (first: {plan.Live.Missing[0]}), "
                + "so what is dead cannot be told; nothing was deleted. Run strata check, then strata repair index");
        }
        var deletable = plan.Deletable.ToList();
        // Packs an unfinished purge was deleting: that purge decided (and showed any fee); finish it.
        bool finishing = repo.Deletions.Any(d => d.Record.Reason == DeletionReason.Purge);
        var delete = deletable.Where(p => acceptEarlyDeletionFee || p.EarlyDeletionUsdNow == 0m || p.Deletion == DeletionReason.Purge).ToList();
        var waiting = deletable.Where(p => !delete.Contains(p)).ToList();
        decimal fees = delete.Where(p => p.Deletion != DeletionReason.Purge).Sum(p => p.EarlyDeletionUsdNow);
        var gone = delete.Select(p => p.Id).ToHashSet();

        string? segment = null;
        int segmentsRemoved = 0;
        if (delete.Count > 0 || finishing)
        {
            await DeletionRecords.WriteAsync(repo, new DeletionRecord
            {
                Time = repo.Clock.GetUtcNow(),
                Reason = DeletionReason.Purge,
                Packs = [.. delete.Select(p => p.Id.ToString())],
                Host = Environment.MachineName,
            }, ct).ConfigureAwait(false);

            var keep = repo.PackCatalogs.Values.Where(p => !gone.Contains(p.Id)).OrderBy(p => p.Id.ToString(), StringComparer.Ordinal).ToList();
            segment = keep.Count > 0 ? await repo.WriteIndexSegmentAsync(keep, ct).ConfigureAwait(false) : null;
            log?.Invoke($"wrote index segment {segment ?? "(none: nothing stays)"} listing {keep.Count} packs");

            foreach (PackPlan p in delete)
            {
                await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Catalogs, p.Id.ToString()), ct).ConfigureAwait(false);
            }
            foreach (PackPlan p in delete)
            {
                await repo.Store.DeleteAsync(p.Name, ct).ConfigureAwait(false);
                log?.Invoke($"deleted {p.Name.Path} ({p.Length} bytes{(p.EarlyDeletionUsdNow > 0 ? $", early-deletion fee {p.EarlyDeletionUsdNow:0.000000} USD" : "")})");
            }
            foreach (string old in repo.IndexSegments)
            {
                if (old != segment)
                {
                    await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Index, old), ct).ConfigureAwait(false);
                    segmentsRemoved++;
                }
            }
        }

        // Deletion records: what still waits stays recorded; every record read at the start (and the purge record) goes.
        int recordsRemoved = 0;
        var pendingSuperseded = repo.Deletions.Where(d => d.Record.Reason == DeletionReason.Compact)
            .SelectMany(d => d.Record.Packs)
            .Where(id => BlobId.TryParse(id, out BlobId b) && !gone.Contains(b) && repo.Index.HasPack(b))
            .Distinct()
            .ToList();
        bool recordsChange = delete.Count > 0 || repo.Deletions.Any(d => d.Record.Reason == DeletionReason.Purge)
            || pendingSuperseded.Count != repo.Deletions.Where(d => d.Record.Reason == DeletionReason.Compact).SelectMany(d => d.Record.Packs).Distinct().Count();
        if (recordsChange)
        {
            string? kept = null;
            if (pendingSuperseded.Count > 0)
            {
                kept = await DeletionRecords.WriteAsync(repo, new DeletionRecord
                {
                    Time = repo.Clock.GetUtcNow(),
                    Reason = DeletionReason.Compact,
                    Packs = pendingSuperseded,
                    Host = Environment.MachineName,
                }, ct).ConfigureAwait(false);
            }
            var all = new List<string>();
            await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Deletions, ct).ConfigureAwait(false))
            {
                all.Add(o.Name.Name);
            }
            foreach (string id in all.Where(id => id != kept))
            {
                await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Deletions, id), ct).ConfigureAwait(false);
                recordsRemoved++;
            }
        }
        return new PurgeResult(delete, waiting, acceptEarlyDeletionFee ? fees : 0m, delete.Sum(p => p.Length), segment, segmentsRemoved, recordsRemoved);
    }
}
