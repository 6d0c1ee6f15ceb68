using System.CommandLine;
using System.Text.Json;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Thaws;

namespace Strata.Cli.Commands;

/// <summary>strata thaws: the restore jobs recorded under thaws/, with the state of their packs asked of the store now.</summary>
internal static class ThawsCommand
{
    public static Command Create()
    {
        var cmd = new Command("thaws", "list restore jobs waiting for (or done with) thaws from cold storage");
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        var damaged = new List<string>();
        List<ThawJob> jobs = await ThawJobs.ListAsync(repo, ct, damaged);
        var states = new List<ThawJobStatus>(jobs.Count);
        foreach (ThawJob job in jobs)
        {
            states.Add(await ThawJobStatus.GetAsync(repo.Store, job, ct));
        }
        foreach (string d in damaged)
        {
            Console.Error.WriteLine($"warning: {d}");
        }
        if (p.GetValue(GlobalOptions.Json))
        {
            var rows = states.Select(s => new Dictionary<string, object?>
            {
                ["job_id"] = s.Job.Id,
                ["short_id"] = s.Job.ShortId,
                ["state"] = s.State,
                ["last_event"] = s.Job.Latest.Event,
                ["last_event_at"] = s.Job.Latest.Time,
                ["requested_at"] = s.Job.FirstRequestedAt,
                ["snapshot_id"] = s.Job.Latest.SnapshotId,
                ["target"] = s.Job.Latest.Target,
                ["dump_path"] = s.Job.Latest.DumpPath,
                ["includes"] = s.Job.Latest.Includes,
                ["excludes"] = s.Job.Latest.Excludes,
                ["tier"] = s.Job.Latest.Tier.ToString().ToLowerInvariant(),
                ["days"] = s.Job.Latest.Days,
                ["storage_class"] = s.Job.Latest.StorageClass,
                ["simulated"] = s.Job.Latest.Simulated,
                ["packs"] = s.Total,
                ["bytes"] = s.Job.Latest.Packs.Sum(x => x.Bytes),
                ["packs_ready"] = s.Ready,
                ["packs_thawing"] = s.Thawing,
                ["packs_frozen"] = s.Frozen,
                ["packs_expired"] = s.Expired,
                ["packs_missing"] = s.Missing,
                ["eta"] = s.Eta,
                ["expires_at"] = s.ExpiresAt,
                ["estimated_usd"] = (double)s.Job.Latest.EstimatedUsd,
            }).ToList();
            Console.WriteLine(JsonSerializer.Serialize(rows, CliJson.Default.ListDictionaryStringObject));
            return ExitCodes.Ok;
        }
        if (states.Count == 0)
        {
            Console.WriteLine($"no thaw jobs in {repo.Location}");
            return ExitCodes.Ok;
        }
        DateTimeOffset now = repo.Clock.GetUtcNow();
        Console.WriteLine($"{"Job",-9} {"State",-10} {"Ready",-7} {"Thawing",-7} {"Frozen",-7} {"Expired",-7} {"Tier",-9} {"Requested",-19} {"ETA",-19} {"Expires",-19} {"Snapshot",-9} Target");
        Console.WriteLine(new string('-', 140));
        foreach (ThawJobStatus s in states)
        {
            ThawJobRecord r = s.Job.Latest;
            string target = r.Target == "-" ? $"dump {r.DumpPath}" : r.Target;
            if (r.Includes.Count > 0)
            {
                target += $" (only {string.Join(", ", r.Includes)})";
            }
            Console.WriteLine($"{s.Job.ShortId,-9} {s.State,-10} {$"{s.Ready}/{s.Total}",-7} {s.Thawing,-7} {s.Frozen,-7} {s.Expired,-7} {r.Tier.ToString().ToLowerInvariant(),-9} {Local(s.Job.FirstRequestedAt),-19} {(s.Thawing > 0 ? Local(s.Eta) : "-"),-19} {Local(s.ExpiresAt),-19} {r.SnapshotId[..8],-9} {target}");
        }
        Console.WriteLine(new string('-', 140));
        Console.WriteLine($"{ColdRead.N(states.Count, "job")}; times are local ({now.ToLocalTime():zzz}). A job that is 'expired' or 'thawing' continues with 'strata restore --resume JOB'.");
        return ExitCodes.Ok;
    }

    private static string Local(DateTimeOffset? t) => t is { } v ? v.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss") : "-";
}
