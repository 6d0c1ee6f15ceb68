using Strata.Archiver;
using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;
using Strata.Restorer;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Thaws;

/// <summary>Where one cold pack of a restore stands.</summary>
public enum PackState
{
    /// <summary>Readable now: thawed, or kept in a warm class.</summary>
    Ready,
    /// <summary>A thaw is running.</summary>
    Thawing,
    /// <summary>Archived and never asked for by this restore.</summary>
    Frozen,
    /// <summary>Thawed before (by this restore, or the store says so), and the thawed copy has expired.</summary>
    Expired,
    /// <summary>The index names it but the store does not have it.</summary>
    Missing,
}

/// <summary>Which restore: the same snapshot, target and paths make the same job.</summary>
/// <param name="Target">Absolute folder to restore into, or "-" for a dump to standard output.</param>
/// <param name="DumpPath">For a dump: the file's absolute path in the snapshot (it is also the only include).</param>
public sealed record ColdRestoreRequest
{
    public required string SnapshotId { get; init; }
    public required string Target { get; init; }
    public string? DumpPath { get; init; }
    public IReadOnlyList<string> Includes { get; init; } = [];
    public IReadOnlyList<string> Excludes { get; init; } = [];

    public bool IsDump => Target == "-";

    /// <summary>A dump of one file: the selection is that exact path.</summary>
    public static ColdRestoreRequest ForDump(string snapshotId, string path) => new()
    {
        SnapshotId = snapshotId,
        Target = "-",
        DumpPath = path,
    };
}

/// <summary>Polling while thaws run: starts at <paramref name="FirstPoll"/>, doubles up to <paramref name="MaxPoll"/>, and wakes at a known ready time.</summary>
public sealed record ColdWaitOptions(TimeSpan FirstPoll, TimeSpan MaxPoll)
{
    public static ColdWaitOptions Default { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
}

/// <summary>One report of the wait loop: N of M packs ready, and when the rest should be.</summary>
public sealed record ColdWaitProgress(int Ready, int Total, DateTimeOffset? Eta, TimeSpan NextPoll);

public enum ColdWaitOutcome
{
    /// <summary>Every needed pack was readable (or missing) and the callback has seen them all.</summary>
    AllReady,
    /// <summary>Some needed pack is frozen again (expired during the wait): a new request, with its cost, is needed.</summary>
    NeedsRequest,
}

/// <summary>
/// A restore (or dump) from a cold tier, resumable across runs and process restarts. Prepare computes the plan from warm
/// data, drops the files already complete in the target, and classifies each cold pack the rest need; Submit requests
/// the frozen and expired ones (packs already thawing are not asked for again) and records the job under thaws/;
/// RestoreReady writes every file whose packs are readable; Wait polls with backoff and calls back as packs become ready.
/// All state lives in the repository (job records) and the target (finished files), never in a local file.
/// </summary>
public sealed class ColdRestore
{
    private readonly Dictionary<string, ThawJobPack> _jobPacks;

    private ColdRestore(Repo repo, Snapshot snapshot, ColdRestoreRequest request, RestorePlan plan, ThawJob? job, IReadOnlyList<PlannedFile> remaining, IReadOnlyList<PlannedPack> needed)
    {
        Repo = repo;
        Snapshot = snapshot;
        Request = request;
        Plan = plan;
        Job = job;
        Remaining = remaining;
        Needed = needed;
        _jobPacks = job?.Latest.Packs.ToDictionary(p => p.Id) ?? [];
    }

    public Repo Repo { get; }
    public Snapshot Snapshot { get; }
    public ColdRestoreRequest Request { get; }
    /// <summary>Everything the request selects, with thaw states as of <see cref="PrepareAsync"/>.</summary>
    public RestorePlan Plan { get; }
    /// <summary>The job this run continues or started; null until something was requested.</summary>
    public ThawJob? Job { get; private set; }
    /// <summary>Selected files not yet complete in the target (all of them for a dump).</summary>
    public IReadOnlyList<PlannedFile> Remaining { get; }
    public int CompleteFiles => Plan.Files.Count - Remaining.Count;
    /// <summary>The cold packs <see cref="Remaining"/> needs, with their latest known thaw states.</summary>
    public IReadOnlyList<PlannedPack> Needed { get; private set; }

    private TimeProvider Clock => Repo.Clock;

    /// <summary>
    /// Plans the request and finds the job it continues: <paramref name="job"/> if given (--resume), else the newest
    /// unfinished job of the same snapshot, target and paths.
    /// </summary>
    public static async Task<ColdRestore> PrepareAsync(Repo repo, Snapshot snapshot, ColdRestoreRequest request, ThawJob? job, CancellationToken ct)
    {
        RestorePlan plan = request.DumpPath is { } dump
            ? await RestorePlanner.PlanFileAsync(repo, snapshot, dump, ct).ConfigureAwait(false) ?? throw new UserInputException($"{dump} is not a file in the snapshot")
            : await RestorePlanner.PlanAsync(repo, snapshot, new ExcludeMatcher(request.Includes), new ExcludeMatcher(request.Excludes), ct).ConfigureAwait(false);
        if (job is null)
        {
            var jobs = await ThawJobs.ListAsync(repo, ct).ConfigureAwait(false);
            job = jobs.FirstOrDefault(j => !j.Completed && j.Matches(request.SnapshotId, request.Target, request.DumpPath, request.Includes, request.Excludes));
        }
        var remaining = new List<PlannedFile>();
        string? target = request.IsDump ? null : Path.GetFullPath(request.Target);
        foreach (PlannedFile f in plan.Files)
        {
            if (target is null || !Restorer.Restorer.IsComplete(Posix.ToBytes(target + f.Path), f.Node))
            {
                remaining.Add(f);
            }
        }
        var wanted = remaining.SelectMany(f => f.Packs).ToHashSet();
        IReadOnlyList<PlannedPack> needed = [.. plan.Packs.Where(p => p.Cold && wanted.Contains(p.Id))];
        return new ColdRestore(repo, snapshot, request, plan, job, remaining, needed);
    }

    public PackState StateOf(PlannedPack p)
    {
        if (p.Missing)
        {
            return PackState.Missing;
        }
        if (p.Status.CanRead)
        {
            return PackState.Ready;
        }
        if (p.Status.State == ThawState.Thawing)
        {
            return PackState.Thawing;
        }
        bool requestedBefore = _jobPacks.TryGetValue(p.Id.ToString(), out ThawJobPack? jp) && jp.RequestedAt is not null;
        return requestedBefore || p.Status.ExpiresAt is not null ? PackState.Expired : PackState.Frozen;
    }

    public IReadOnlyList<PlannedPack> InState(PackState state) => [.. Needed.Where(p => StateOf(p) == state)];

    public int Count(PackState state) => Needed.Count(p => StateOf(p) == state);

    /// <summary>Packs a thaw request must be sent for: never asked for, or expired.</summary>
    public IReadOnlyList<PlannedPack> ToRequest => [.. Needed.Where(p => StateOf(p) is PackState.Frozen or PackState.Expired)];

    /// <summary>Packs the restorer may read now: ready ones, and missing ones (so their files fail with a message naming the pack).</summary>
    public IReadOnlySet<BlobId> ReadableSet() => Needed.Where(p => StateOf(p) is PackState.Ready or PackState.Missing).Select(p => p.Id).ToHashSet();

    /// <summary>When every running thaw should be done: the store's ready times if it gives them, else the job's expectation.</summary>
    public DateTimeOffset? Eta()
    {
        DateTimeOffset? eta = null;
        foreach (PlannedPack p in Needed)
        {
            if (StateOf(p) != PackState.Thawing)
            {
                continue;
            }
            DateTimeOffset? at = p.Status.ReadyAt ?? Job?.Latest.ExpectedReadyAt;
            if (at is null)
            {
                return null;
            }
            eta = eta is null || at > eta ? at : eta;
        }
        return eta;
    }

    /// <summary>The earliest expiry among thawed copies this restore still needs.</summary>
    public DateTimeOffset? EarliestExpiry() => Needed.Where(p => StateOf(p) == PackState.Ready && p.Status.ExpiresAt is not null).Select(p => p.Status.ExpiresAt).Min();

    /// <summary>Asks the store again for the state of the needed packs that are not known to be readable (or whose copy may have expired).</summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        DateTimeOffset now = Clock.GetUtcNow();
        var stale = Needed.Select((p, i) => (p, i)).Where(x => StateOf(x.p) != PackState.Ready || x.p.Status.ExpiresAt is { } e && e <= now).ToList();
        if (stale.Count == 0)
        {
            return;
        }
        var fresh = await RestorePlanner.StatusesAsync(Repo.Store, [.. stale.Select(x => x.p)], ct).ConfigureAwait(false);
        var updated = Needed.ToArray();
        for (int k = 0; k < stale.Count; k++)
        {
            updated[stale[k].i] = fresh[k];
        }
        Needed = updated;
    }

    /// <summary>
    /// Requests a thaw of <see cref="ToRequest"/> (rate-limited, batched) and records the job: a new thaws/ record
    /// "submitted" for a new job, "re-requested" for one that continues. Returns the job, or null when nothing needed a request.
    /// </summary>
    /// <param name="estimatedUsd">The estimate the user accepted for these requests (recorded with the job).</param>
    /// <param name="slowest">The tier's slowest time from the price table, for the expected ready time when the store gives none.</param>
    public async Task<ThawJob?> SubmitAsync(ThawTier tier, int days, decimal estimatedUsd, TimeSpan? slowest, ThawSubmitOptions options, CancellationToken ct)
    {
        var toRequest = ToRequest;
        if (toRequest.Count == 0)
        {
            return Job;
        }
        int expired = toRequest.Count(p => StateOf(p) == PackState.Expired);
        DateTimeOffset now = Clock.GetUtcNow();
        await ThawSubmitter.SubmitAsync(Repo.Store, [.. toRequest.Select(p => p.Name)], new ThawRequest(tier, days), options, Clock, null, ct).ConfigureAwait(false);
        await RefreshAsync(ct).ConfigureAwait(false);

        var requestedIds = toRequest.Select(p => p.Id).ToHashSet();
        DateTimeOffset? expected = null;
        foreach (PlannedPack p in Needed.Where(p => requestedIds.Contains(p.Id)))
        {
            DateTimeOffset? at = p.Status.State switch
            {
                ThawState.Thawing => p.Status.ReadyAt ?? (slowest is { } s ? now + s : null),
                ThawState.Thawed or ThawState.Readable => p.Status.ReadyAt ?? now,
                _ => slowest is { } s2 ? now + s2 : null,
            };
            if (at is null)
            {
                expected = null;
                break;
            }
            expected = expected is null || at > expected ? at : expected;
        }

        var packs = new Dictionary<string, ThawJobPack>(_jobPacks);
        foreach (PlannedPack p in Needed)
        {
            string id = p.Id.ToString();
            ThawJobPack jp = packs.GetValueOrDefault(id) ?? new ThawJobPack(id, p.Bytes);
            packs[id] = requestedIds.Contains(p.Id) ? jp with { RequestedAt = now, Requests = jp.Requests + 1 } : jp;
        }
        StoreProperties props = Repo.Store.Properties;
        var record = new ThawJobRecord
        {
            JobId = Job?.Id ?? ThawJobs.NewJobId(),
            Sequence = (Job?.Latest.Sequence ?? 0) + 1,
            Event = Job is null ? ThawJobEvents.Submitted : ThawJobEvents.Rerequested,
            Time = now,
            Previous = Job?.ObjectId,
            SnapshotId = Request.SnapshotId,
            Target = Request.IsDump ? "-" : Path.GetFullPath(Request.Target),
            DumpPath = Request.DumpPath,
            Includes = Request.Includes,
            Excludes = Request.Excludes,
            Tier = tier,
            Days = days,
            StorageClass = props.ColdStorageClass,
            Simulated = props.SimulatedCold,
            EstimatedUsd = (Job?.Latest.EstimatedUsd ?? 0m) + estimatedUsd,
            ExpectedReadyAt = expected,
            Host = Environment.MachineName,
            Note = expired > 0 ? $"{expired} pack(s) whose thawed copy expired were requested again" : null,
            Packs = [.. packs.Values.OrderBy(p => p.Id, StringComparer.Ordinal)],
        };
        string objectId = await ThawJobs.WriteAsync(Repo, record, ct).ConfigureAwait(false);
        Job = new ThawJob(record, objectId, Job?.FirstRequestedAt ?? now, (Job?.Records ?? 0) + 1);
        _jobPacks.Clear();
        foreach (ThawJobPack p in record.Packs)
        {
            _jobPacks[p.Id] = p;
        }
        return Job;
    }

    /// <summary>
    /// One restore pass: writes every remaining file whose packs are all readable now, skips files already complete,
    /// and counts the rest as deferred. Options other than target and selection come from <paramref name="template"/>.
    /// </summary>
    public Task<RestoreResult> RestoreReadyAsync(RestoreOptions template, RestoreProgress? progress, CancellationToken ct)
    {
        if (Request.IsDump)
        {
            throw new InvalidOperationException("a dump is written by its command once every pack is readable");
        }
        var options = template with
        {
            Target = Request.Target,
            Includes = new ExcludeMatcher(Request.Includes),
            Excludes = new ExcludeMatcher(Request.Excludes),
            ReadablePacks = ReadableSet(),
            SkipComplete = true,
        };
        return new Restorer.Restorer(Repo, options, progress).RunAsync(Snapshot, ct);
    }

    /// <summary>
    /// Waits for the running thaws: polls the needed packs with backoff (waking at a ready time the store announced),
    /// reports N of M ready, and calls <paramref name="onReady"/> first at once and then each time more packs are ready,
    /// with the set that may be read. Returns when nothing is thawing any more.
    /// </summary>
    public async Task<ColdWaitOutcome> WaitAsync(
        Func<IReadOnlySet<BlobId>, CancellationToken, Task> onReady,
        ColdWaitOptions options,
        Action<ColdWaitProgress>? progress,
        CancellationToken ct)
    {
        int lastReady = -1;
        TimeSpan backoff = options.FirstPoll;
        bool first = true;
        while (true)
        {
            if (!first)
            {
                await RefreshAsync(ct).ConfigureAwait(false);
            }
            first = false;
            IReadOnlySet<BlobId> ready = ReadableSet();
            if (ready.Count != lastReady)
            {
                await onReady(ready, ct).ConfigureAwait(false);
                lastReady = ready.Count;
            }
            int thawing = Count(PackState.Thawing);
            int total = Needed.Count - Count(PackState.Missing);
            if (thawing == 0)
            {
                progress?.Invoke(new ColdWaitProgress(Count(PackState.Ready), total, null, TimeSpan.Zero));
                return Count(PackState.Frozen) + Count(PackState.Expired) > 0 ? ColdWaitOutcome.NeedsRequest : ColdWaitOutcome.AllReady;
            }
            TimeSpan next = backoff;
            DateTimeOffset now = Clock.GetUtcNow();
            DateTimeOffset? soonest = Needed.Where(p => StateOf(p) == PackState.Thawing && p.Status.ReadyAt is not null).Select(p => p.Status.ReadyAt).Min();
            if (soonest is { } s)
            {
                TimeSpan until = s - now + TimeSpan.FromMilliseconds(50);
                if (until < next)
                {
                    next = until < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : until;
                }
            }
            progress?.Invoke(new ColdWaitProgress(Count(PackState.Ready), total, Eta(), next));
            await Task.Delay(next, Clock, ct).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxPoll.Ticks));
        }
    }

    /// <summary>Records that the job is done (every file written), so a later run of the same restore starts a new job.</summary>
    public async Task CompleteAsync(CancellationToken ct)
    {
        if (Job is not { Completed: false } job)
        {
            return;
        }
        DateTimeOffset now = Clock.GetUtcNow();
        var record = job.Latest with
        {
            Sequence = job.Latest.Sequence + 1,
            Event = ThawJobEvents.Completed,
            Time = now,
            Previous = job.ObjectId,
            Note = null,
        };
        string objectId = await ThawJobs.WriteAsync(Repo, record, ct).ConfigureAwait(false);
        Job = new ThawJob(record, objectId, job.FirstRequestedAt, job.Records + 1);
    }
}
