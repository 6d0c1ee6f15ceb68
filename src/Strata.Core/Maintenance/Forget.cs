using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>
/// What forget will remove. <see cref="Groups"/> holds every decision when a policy was applied (empty when snapshots
/// were named by id); <see cref="Remove"/> is the snapshots whose objects go, newest first.
/// </summary>
public sealed record ForgetPlan(IReadOnlyList<RetentionGroup> Groups, IReadOnlyList<RetentionSnapshot> Remove, bool ById);

/// <summary>
/// Applies a retention policy (or a list of snapshot ids) to a repository. Reads warm snapshot objects only and
/// deletes only snapshots/&lt;id&gt; objects: the packs, trees and index stay until prune marks the blobs no snapshot
/// uses and compact/purge delete them. Needs the owner key (snapshot bodies carry host, paths and tags).
/// </summary>
public static class Forget
{
    public static RetentionSnapshot ToRetention(SnapshotRef s) =>
        new(s.Id, s.Snapshot.Time, s.Snapshot.Host, s.Snapshot.Paths, s.Snapshot.Tags);

    /// <summary>Decides every snapshot by the policy, "now" from the repository's clock, buckets in <paramref name="zone"/>.</summary>
    public static async Task<ForgetPlan> PlanAsync(Repo repo, RetentionPolicy policy, TimeZoneInfo zone, CancellationToken ct)
    {
        repo.RequireOwner("forget");
        policy.Validate();
        if (policy.IsEmpty)
        {
            throw new UserInputException("forget needs a rule: --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within or --keep-tag (or snapshot ids); --min-keep alone removes nothing");
        }
        var snapshots = await repo.ListSnapshotsAsync(ct).ConfigureAwait(false);
        var groups = KeepWormBaselines(Retention.Apply(snapshots.Select(ToRetention), policy, repo.Clock.GetUtcNow(), zone), snapshots);
        var remove = groups.SelectMany(g => g.Removed).Select(d => d.Snapshot).OrderByDescending(s => s.Time).ToList();
        return new ForgetPlan(groups, remove, ById: false);
    }

    /// <summary>
    /// A snapshot that a worm backup compared with and found changes against holds the earlier versions of those
    /// files: retention rules never remove it (only naming it explicitly does).
    /// </summary>
    public static List<RetentionGroup> KeepWormBaselines(IReadOnlyList<RetentionGroup> groups, IReadOnlyList<SnapshotRef> snapshots)
    {
        var baselines = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (SnapshotRef s in snapshots)
        {
            if (s.Snapshot.Parent is { } parent && s.Snapshot.WormChanges?.Count(c => c.IsViolation) is int n && n > 0)
            {
                baselines.TryAdd(parent, $"worm: holds the earlier versions of {n} files changed in {s.ShortId}");
            }
        }
        return groups.Select(g => g with
        {
            Decisions = g.Decisions.Select(d => !d.Keep && baselines.TryGetValue(d.Snapshot.Id, out string? why)
                ? d with { Keep = true, Reasons = [.. d.Reasons, why] }
                : d).ToList(),
        }).ToList();
    }

    /// <summary>Plans the removal of exactly these snapshots: full ids, unique id prefixes, or "latest".</summary>
    public static async Task<ForgetPlan> PlanByIdAsync(Repo repo, IReadOnlyList<string> specs, CancellationToken ct)
    {
        repo.RequireOwner("forget");
        var snapshots = await repo.ListSnapshotsAsync(ct).ConfigureAwait(false);
        var chosen = new Dictionary<string, SnapshotRef>(StringComparer.Ordinal);
        foreach (string spec in specs)
        {
            SnapshotRef s;
            if (spec == "latest")
            {
                s = snapshots.Count > 0 ? snapshots[^1] : throw new UserInputException($"{repo.Location} has no snapshots");
            }
            else
            {
                var matches = snapshots.Where(x => x.Id.StartsWith(spec, StringComparison.Ordinal)).ToList();
                s = matches.Count switch
                {
                    1 => matches[0],
                    0 => throw new UserInputException($"no snapshot with id '{spec}' in {repo.Location}; nothing was removed"),
                    _ => throw new UserInputException($"snapshot id prefix '{spec}' is ambiguous: it matches {string.Join(", ", matches.Select(m => m.ShortId))}; nothing was removed"),
                };
            }
            chosen[s.Id] = s;
        }
        var remove = chosen.Values.Select(ToRetention).OrderByDescending(s => s.Time).ToList();
        return new ForgetPlan([], remove, ById: true);
    }

    /// <summary>
    /// Deletes the snapshot objects the plan removes and returns how many. Deleting is idempotent, so a run that
    /// was interrupted can simply be repeated. <paramref name="removed"/> is called after each deletion.
    /// </summary>
    public static async Task<int> ApplyAsync(Repo repo, ForgetPlan plan, Action<RetentionSnapshot>? removed, CancellationToken ct)
    {
        repo.RequireOwner("forget");
        int n = 0;
        foreach (RetentionSnapshot s in plan.Remove)
        {
            await repo.Store.DeleteAsync(new ObjectName(ObjectKind.Snapshots, s.Id), ct).ConfigureAwait(false);
            removed?.Invoke(s);
            n++;
        }
        return n;
    }
}
