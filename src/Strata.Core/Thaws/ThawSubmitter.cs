using Strata.Stores;

namespace Strata.Thaws;

/// <summary>How thaw requests are sent: in batches, a few at a time, at a bounded rate.</summary>
/// <param name="BatchSize">Requests per batch; the rate limit is applied between batches.</param>
/// <param name="Concurrency">Requests in flight at once within a batch (never more than the store's connections).</param>
/// <param name="RequestsPerSecond">Upper bound on the request rate (S3 throttles bursts of RestoreObject); 0 for no pacing.</param>
public sealed record ThawSubmitOptions(int BatchSize = 100, int Concurrency = 8, double RequestsPerSecond = 50);

/// <summary>Sends thaw requests for many objects without flooding the store. Requests are idempotent (a running thaw is not restarted).</summary>
public static class ThawSubmitter
{
    /// <summary>
    /// Requests a thaw of every object in <paramref name="names"/>. Returns the objects the store does not have (they are
    /// reported, not fatal: the restore names the files that need them). Other store errors propagate after the store's
    /// own retries; what was submitted before stays submitted, and a rerun does not re-request objects already thawing.
    /// </summary>
    public static async Task<IReadOnlyList<ObjectName>> SubmitAsync(
        IStore store,
        IReadOnlyList<ObjectName> names,
        ThawRequest request,
        ThawSubmitOptions options,
        TimeProvider clock,
        Action<int>? submitted,
        CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BatchSize, 1);
        var missing = new List<ObjectName>();
        int concurrency = Math.Max(1, Math.Min(options.Concurrency, store.Properties.Connections));
        int done = 0;
        for (int start = 0; start < names.Count; start += options.BatchSize)
        {
            long began = clock.GetTimestamp();
            var batch = names.Skip(start).Take(options.BatchSize).ToList();
            await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (name, c) =>
            {
                try
                {
                    await store.RequestThawAsync(name, request, c).ConfigureAwait(false);
                }
                catch (ObjectNotFoundException)
                {
                    lock (missing)
                    {
                        missing.Add(name);
                    }
                }
            }).ConfigureAwait(false);
            done += batch.Count;
            submitted?.Invoke(done);
            if (options.RequestsPerSecond > 0 && start + options.BatchSize < names.Count)
            {
                TimeSpan budget = TimeSpan.FromSeconds(batch.Count / options.RequestsPerSecond);
                TimeSpan left = budget - clock.GetElapsedTime(began);
                if (left > TimeSpan.Zero)
                {
                    await Task.Delay(left, clock, ct).ConfigureAwait(false);
                }
            }
        }
        return missing;
    }
}
