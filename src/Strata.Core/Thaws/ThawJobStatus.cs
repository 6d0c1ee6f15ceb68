using Strata.Restorer;
using Strata.Stores;

namespace Strata.Thaws;

/// <summary>
/// Where a job stands now: its packs counted by state (asked of the store, one metadata request per pack), when the
/// running thaws should be done, and when the first thawed copy expires.
/// </summary>
public sealed record ThawJobStatus(ThawJob Job, int Ready, int Thawing, int Frozen, int Expired, int Missing, DateTimeOffset? Eta, DateTimeOffset? ExpiresAt)
{
    public int Total => Job.Latest.Packs.Count;

    /// <summary>completed, ready, thawing, expired (a thawed copy lapsed: run the restore again), frozen (never requested), or missing.</summary>
    public string State =>
        Job.Completed ? "completed"
        : Expired > 0 ? "expired"
        : Thawing > 0 ? "thawing"
        : Frozen > 0 ? "frozen"
        : Missing > 0 ? "missing"
        : "ready";

    public static async Task<ThawJobStatus> GetAsync(IStore store, ThawJob job, CancellationToken ct)
    {
        var packs = job.Latest.Packs
            .Select(p => new PlannedPack(Crypto.BlobId.Parse(p.Id), new ObjectName(ObjectKind.Data, p.Id), p.Bytes, new ThawStatus(ThawState.Frozen)))
            .ToList();
        IReadOnlyList<PlannedPack> now = await RestorePlanner.StatusesAsync(store, packs, ct).ConfigureAwait(false);
        int ready = 0, thawing = 0, frozen = 0, expired = 0, missing = 0;
        DateTimeOffset? eta = null, expires = null;
        bool etaUnknown = false;
        for (int i = 0; i < now.Count; i++)
        {
            PlannedPack p = now[i];
            ThawJobPack jp = job.Latest.Packs[i];
            if (p.Missing)
            {
                missing++;
            }
            else if (p.Status.CanRead)
            {
                ready++;
                if (p.Status.ExpiresAt is { } e && (expires is null || e < expires))
                {
                    expires = e;
                }
            }
            else if (p.Status.State == ThawState.Thawing)
            {
                thawing++;
                DateTimeOffset? at = p.Status.ReadyAt ?? job.Latest.ExpectedReadyAt;
                etaUnknown |= at is null;
                if (at is not null && (eta is null || at > eta))
                {
                    eta = at;
                }
            }
            else if (jp.RequestedAt is not null || p.Status.ExpiresAt is not null)
            {
                expired++;
            }
            else
            {
                frozen++;
            }
        }
        return new ThawJobStatus(job, ready, thawing, frozen, expired, missing, etaUnknown ? null : eta, expires);
    }
}
