using System.CommandLine;
using System.Globalization;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Costs;
using Strata.Repository;
using Strata.Restorer;
using Strata.Stores;
using Strata.Thaws;

namespace Strata.Cli.Commands;

internal static class RestoreCommand
{
    /// <summary>The restore (or dump) is waiting for thaws: what was readable is written, the rest follows on a later run.</summary>
    public const int WaitingForThaw = ExitCodes.WaitingForThaw;

    private static readonly Argument<string?> SnapshotArg = new("snapshot") { Description = "snapshot id (or unique prefix), or 'latest'", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string?> Target = new("--target", "-t") { Description = "folder to restore into; absolute paths are recreated under it" };
    private static readonly Option<string[]> Include = new("--include", "-i") { Description = "restore only paths matching GLOB (repeatable)" };
    private static readonly Option<string[]> Exclude = new("--exclude", "-e") { Description = "do not restore paths matching GLOB (repeatable)" };
    private static readonly Option<bool> PageCache = new("--page-cache") { Description = "write every file through the page cache (by default files of 64 KiB and more go straight to disk, past it)" };
    private static readonly Option<string?> Resume = new("--resume") { Description = "continue the restore of thaw job JOB (see 'strata thaws'): same snapshot, paths and target" };
    private static readonly ColdOptions Cold = new();
    private static readonly DatabaseRestore Databases = new();

    public static Command Create()
    {
        var cmd = new Command("restore", "restore a snapshot into a folder (from a cold tier: plan, price, thaw, then restore)");
        cmd.Arguments.Add(SnapshotArg);
        cmd.Options.Add(Target);
        cmd.Options.Add(Include);
        cmd.Options.Add(Exclude);
        cmd.Options.Add(PageCache);
        cmd.Options.Add(Resume);
        Cold.AddTo(cmd);
        Databases.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        string? resume = p.GetValue(Resume);
        string? snapshotSpec = p.GetValue(SnapshotArg);
        string? target = p.GetValue(Target);
        string[] includes = p.GetValue(Include) ?? [];
        string[] excludes = p.GetValue(Exclude) ?? [];
        if (resume is not null && (snapshotSpec is not null || includes.Length > 0 || excludes.Length > 0))
        {
            throw new UserInputException("--resume JOB takes the snapshot, paths and target from the job; give either a snapshot or --resume, not both");
        }
        if (resume is null && snapshotSpec is null)
        {
            throw new UserInputException("which snapshot? give a snapshot id or 'latest' (or --resume JOB to continue a restore from cold storage)");
        }
        if (Databases.Read(p, target, resume is not null) is { } database)
        {
            return await Databases.RunAsync(p, database, snapshotSpec!, Cold.Read(p), ct);
        }
        if (resume is null && target is null)
        {
            throw new UserInputException("--target is required: the folder to restore into");
        }
        ColdSettings cold = Cold.Read(p);
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);

        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        repo.RequireOwner("restore");
        ThawJob? job = null;
        if (resume is not null)
        {
            job = await ThawJobs.FindAsync(repo, resume, ct);
            if (job.Latest.Target == "-")
            {
                throw new UserInputException($"thaw job {job.ShortId} is a dump of {job.Latest.DumpPath}; run 'strata dump {job.Latest.SnapshotId[..8]} {job.Latest.DumpPath}' again to continue it");
            }
            if (target is not null && Path.GetFullPath(target) != job.Latest.Target)
            {
                throw new UserInputException($"thaw job {job.ShortId} restores into {job.Latest.Target}, not {Path.GetFullPath(target)}; leave out --target to continue it");
            }
            snapshotSpec = job.Latest.SnapshotId;
            target = job.Latest.Target;
            includes = [.. job.Latest.Includes];
            excludes = [.. job.Latest.Excludes];
        }
        SnapshotRef snap = await repo.FindSnapshotAsync(snapshotSpec!, ct);
        var options = new RestoreOptions
        {
            Target = target!,
            Includes = new ExcludeMatcher(includes),
            Excludes = new ExcludeMatcher(excludes),
            DirectWrites = !p.GetValue(PageCache),
        };
        StoreProperties props = repo.Store.Properties;
        if (props.HasColdTier && !props.ColdReadsDirectly)
        {
            var request = new ColdRestoreRequest { SnapshotId = snap.Id, Target = Path.GetFullPath(target!), Includes = includes, Excludes = excludes };
            return await RestoreFromColdAsync(repo, snap, request, job, options, cold, json, quiet, ct);
        }
        if (props.ColdReadsDirectly && !quiet && !json)
        {
            Console.WriteLine($"note: {repo.Location} keeps data packs in {props.ColdStorageClass} but reads them directly: no thaw is needed");
        }
        var result = await new Restorer.Restorer(repo, options).RunAsync(snap.Snapshot, ct);
        ReportFailures(result.Failures, json);
        if (json)
        {
            Format.JsonLine(new() { ["message_type"] = "summary", ["snapshot_id"] = snap.Id, ["files_restored"] = result.Files, ["bytes_restored"] = result.Bytes, ["failures"] = result.Failures.Count });
        }
        else if (!quiet)
        {
            Console.WriteLine($"restored snapshot {snap.ShortId}: {result.Files} files, {Format.Bytes(result.Bytes)} into {Path.GetFullPath(options.Target)}");
            if (result.Failures.Count > 0)
            {
                Console.Error.WriteLine($"{result.Failures.Count} items could not be restored (listed above); everything else was restored");
            }
        }
        return result.Failures.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }

    private static void ReportFailures(IEnumerable<RestoreFailure> failures, bool json)
    {
        foreach (var f in failures)
        {
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "error", ["item"] = f.Path, ["error"] = f.Error });
            }
            else
            {
                Console.Error.WriteLine($"error: could not restore {f.Path}: {f.Error}");
            }
        }
    }

    /// <summary>
    /// Plan, price, ask, request the thaws, record the job; then restore what is readable, either once (and say how to
    /// resume) or, with --wait, each time more packs are ready.
    /// </summary>
    private static async Task<int> RestoreFromColdAsync(Repo repo, SnapshotRef snap, ColdRestoreRequest request, ThawJob? job, RestoreOptions options, ColdSettings settings, bool json, bool quiet, CancellationToken ct)
    {
        ColdRestore cold = await ColdRestore.PrepareAsync(repo, snap.Snapshot, request, job, ct);
        var ui = new ColdUi(Console.Out, json, quiet, repo.Clock);
        await ColdRead.PlanAndRequestAsync(repo, snap, cold, settings, ui, ct);

        long files = 0, bytes = 0;
        RestoreResult? last = null;
        // Each pass retries every file that is not complete, so the last pass's failures are the ones that stand.
        async Task PassAsync(IReadOnlySet<Crypto.BlobId> readable, CancellationToken c)
        {
            RestoreResult r = await cold.RestoreReadyAsync(options, null, c);
            files += r.Files;
            bytes += r.Bytes;
            last = r;
            if (r.Files > 0 && settings.Wait)
            {
                ui.Line($"restored {ColdRead.N(r.Files, "file")} ({Format.Bytes(r.Bytes)}); {r.Deferred} still wait for thaws");
            }
        }

        ColdWaitOutcome? outcome = null;
        if (settings.Wait && cold.Needed.Count > 0)
        {
            outcome = await cold.WaitAsync(PassAsync, ColdWaitOptions.Default, ui.Progress, ct);
        }
        else
        {
            await PassAsync(cold.ReadableSet(), ct);
        }
        RestoreResult final = last!;
        IReadOnlyList<RestoreFailure> failures = final.Failures;
        ReportFailures(failures, json);
        bool done = final.Deferred == 0;
        if (done && failures.Count == 0)
        {
            await cold.CompleteAsync(ct);
        }
        if (json)
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "summary",
                ["snapshot_id"] = snap.Id,
                ["job_id"] = cold.Job?.Id,
                ["files_restored"] = files,
                ["bytes_restored"] = bytes,
                ["files_already_complete"] = cold.CompleteFiles,
                ["files_deferred"] = final.Deferred,
                ["bytes_deferred"] = final.DeferredBytes,
                ["packs_thawing"] = cold.Count(PackState.Thawing),
                ["eta"] = cold.Eta(),
                ["failures"] = failures.Count,
            });
        }
        else if (!quiet)
        {
            string already = cold.CompleteFiles > 0 ? $" ({cold.CompleteFiles} already complete)" : "";
            string sofar = done ? "" : " so far";
            Console.WriteLine($"restored {ColdRead.N(files, "file")}{sofar} of snapshot {snap.ShortId}, {Format.Bytes(bytes)}, into {request.Target}{already}");
            if (!done)
            {
                Console.WriteLine(ColdRead.HowToResume(cold, final.Deferred, final.DeferredBytes, outcome, $"strata restore --resume {cold.Job?.ShortId}", repo.Clock));
            }
            if (failures.Count > 0)
            {
                Console.Error.WriteLine($"{failures.Count} items could not be restored (listed above); everything else was restored");
            }
        }
        return failures.Count > 0 ? ExitCodes.Damaged : done ? ExitCodes.Ok : WaitingForThaw;
    }
}

/// <summary>The options every command that may read a cold tier takes (restore, dump).</summary>
internal sealed class ColdOptions
{
    private readonly Option<bool> _yes = new("--yes", "-y") { Description = "cold tier: request the thaws without asking" };
    private readonly Option<string?> _tier = new("--tier") { Description = "cold tier: retrieval tier bulk, standard or expedited (default: the cheapest available)" };
    private readonly Option<string?> _maxCost = new("--max-cost") { Description = "cold tier: refuse if the thaw is estimated to cost more than USD" };
    private readonly Option<int> _days = new("--days") { Description = "cold tier: days to keep the thawed copies", DefaultValueFactory = _ => 7 };
    private readonly Option<bool> _inRegion = new("--in-region") { Description = "cold tier: price as run inside the provider's region (no egress)" };
    private readonly Option<bool> _wait = new("--wait") { Description = "cold tier: wait for the thaws, restoring each file as soon as its packs are ready" };

    public void AddTo(Command cmd)
    {
        foreach (Option o in new Option[] { _yes, _tier, _maxCost, _days, _inRegion, _wait })
        {
            cmd.Options.Add(o);
        }
    }

    public ColdSettings Read(ParseResult p)
    {
        ThawTier? tier = p.GetValue(_tier) is { } t
            ? Enum.TryParse(t, ignoreCase: true, out ThawTier parsed) && Enum.IsDefined(parsed) ? parsed : throw new UserInputException($"--tier: '{t}' is not bulk, standard or expedited")
            : null;
        decimal? maxCost = null;
        if (p.GetValue(_maxCost) is { } m)
        {
            maxCost = decimal.TryParse(m.Trim().TrimStart('$'), NumberStyles.Number, CultureInfo.InvariantCulture, out decimal v) && v >= 0
                ? v
                : throw new UserInputException($"--max-cost: '{m}' is not an amount in USD (example: --max-cost 5, or 0.50)");
        }
        int days = p.GetValue(_days);
        if (days < 1)
        {
            throw new UserInputException($"--days: {days} is not allowed; a thawed copy is kept at least 1 day");
        }
        return new ColdSettings(p.GetValue(_yes), tier, maxCost, days, p.GetValue(_inRegion), p.GetValue(_wait));
    }
}

internal sealed record ColdSettings(bool Yes, ThawTier? Tier, decimal? MaxCost, int Days, bool InRegion, bool Wait);

/// <summary>Where the cold-read messages go: stdout for restore, stderr for dump (its stdout is the file); JSON lines with --json.</summary>
internal sealed class ColdUi(TextWriter output, bool json, bool quiet, TimeProvider clock)
{
    private int _lastReady = -1;

    public bool Json => json;

    public void Line(string text)
    {
        if (!json && !quiet)
        {
            output.WriteLine(text);
        }
    }

    public void Event(Dictionary<string, object?> fields)
    {
        if (json)
        {
            Format.JsonLine(fields);
        }
    }

    public void Progress(ColdWaitProgress p)
    {
        if (p.Ready == _lastReady)
        {
            return;
        }
        _lastReady = p.Ready;
        Event(new() { ["message_type"] = "status", ["packs_ready"] = p.Ready, ["packs_total"] = p.Total, ["eta"] = p.Eta });
        string eta = p.Eta is { } e ? $", the rest expected {ColdRead.When(e, clock.GetUtcNow())}" : "";
        Line(p.Ready == p.Total ? $"{p.Ready} of {p.Total} packs ready" : $"{p.Ready} of {p.Total} packs ready{eta}; waiting");
    }
}

/// <summary>The cold-read steps restore and dump share: print the plan and its price, get consent, request, record.</summary>
internal static class ColdRead
{
    /// <summary>
    /// Prints the plan; when packs need a thaw, prices every tier, picks one (--tier, else the cheapest), enforces
    /// --max-cost, asks for consent (--yes, or y on a terminal; refuses otherwise) and submits. Returns the job, if any.
    /// </summary>
    public static async Task<ThawJob?> PlanAndRequestAsync(Repo repo, SnapshotRef snap, ColdRestore cold, ColdSettings s, ColdUi ui, CancellationToken ct)
    {
        StoreProperties props = repo.Store.Properties;
        RestorePlan plan = cold.Plan;
        IReadOnlyList<PlannedPack> toRequest = cold.ToRequest;
        IReadOnlyList<PlannedPack> expired = cold.InState(PackState.Expired);
        PriceTable prices;
        IReadOnlyList<TierEstimate> estimates;
        try
        {
            prices = PriceTable.Load(null);
            estimates = CostModel.EstimateColdRead(prices, RestorePlan.ColdRead(props, toRequest, s.Days, s.InRegion));
        }
        catch (PriceTableException e)
        {
            throw new UserInputException($"cannot price the thaw, so nothing was requested: {e.Message}");
        }
        LocalStore? local = repo.Store.Find<LocalStore>();
        ColdSimulation? sim = props.SimulatedCold ? local?.Simulation : null;

        string what = cold.Request.IsDump ? "dump" : "restore";
        ui.Line($"Cold {what} plan{(cold.Request.IsDump ? $" for {cold.Request.DumpPath}" : "")}, snapshot {snap.ShortId} ({string.Join(" ", snap.Snapshot.Paths)}), from {props.ColdStorageClass}:");
        string complete = cold.CompleteFiles > 0 ? $" ({cold.CompleteFiles} already complete in the target, skipped)" : "";
        ui.Line($"  files:        {plan.Files.Count} selected, {Format.Bytes(plan.FileBytes)}{complete}");
        ui.Line($"  cold packs:   {cold.Needed.Count} needed, {Format.Bytes(cold.Needed.Sum(p => p.Bytes))} (of {N(plan.ColdObjects, "pack")}, {Format.Bytes(plan.ColdBytes)}, for the whole selection)");
        ui.Line($"  state:        {cold.Count(PackState.Ready)} ready (thawed or warm), {cold.Count(PackState.Thawing)} thawing, {cold.Count(PackState.Frozen)} frozen, {cold.Count(PackState.Expired)} expired"
            + (cold.Count(PackState.Missing) > 0 ? $", {cold.Count(PackState.Missing)} MISSING from the store" : ""));
        if (cold.Job is { } existing)
        {
            ui.Line($"  job:          {existing.ShortId}, {existing.Latest.Event} {Format.Time(existing.Latest.Time.ToUnixTimeMilliseconds() * 1_000_000)} ({existing.Latest.Tier.ToString().ToLowerInvariant()}, {N(existing.Latest.Days, "day")})");
        }
        if (sim is not null)
        {
            ui.Line($"  SIMULATION:   this repository's cold tier is a local simulation, not a cloud archive: a thaw takes {Duration(sim.DelayFor(ThawTier.Bulk))} (bulk), "
                + $"{Duration(sim.DelayFor(ThawTier.Standard))} (standard), {Duration(sim.DelayFor(ThawTier.Expedited))} (expedited), and a day lasts {Duration(TimeSpan.FromSeconds(sim.DaySeconds))}. "
                + $"The costs below are what {props.PriceProvider} {props.ColdStorageClass} would charge; nothing is billed.");
        }

        var planEvent = new Dictionary<string, object?>
        {
            ["message_type"] = "plan",
            ["snapshot_id"] = snap.Id,
            ["storage_class"] = props.ColdStorageClass,
            ["simulated"] = props.SimulatedCold,
            ["files"] = plan.Files.Count,
            ["file_bytes"] = plan.FileBytes,
            ["files_already_complete"] = cold.CompleteFiles,
            ["cold_packs"] = cold.Needed.Count,
            ["cold_bytes"] = cold.Needed.Sum(p => p.Bytes),
            ["packs_ready"] = cold.Count(PackState.Ready),
            ["packs_thawing"] = cold.Count(PackState.Thawing),
            ["packs_frozen"] = cold.Count(PackState.Frozen),
            ["packs_expired"] = cold.Count(PackState.Expired),
            ["packs_missing"] = cold.Count(PackState.Missing),
            ["packs_to_thaw"] = toRequest.Count,
            ["bytes_to_thaw"] = toRequest.Sum(p => p.Bytes),
            ["days"] = s.Days,
            ["in_region"] = s.InRegion,
            ["job_id"] = cold.Job?.Id,
            ["tiers"] = estimates.Select(e => new Dictionary<string, object?>
            {
                ["tier"] = e.Tier.ToString().ToLowerInvariant(),
                ["fastest_seconds"] = e.Fastest.TotalSeconds,
                ["slowest_seconds"] = e.Slowest.TotalSeconds,
                ["retrieval_usd"] = (double)e.RetrievalUsd,
                ["requests_usd"] = (double)e.RequestsUsd,
                ["egress_usd"] = (double)e.EgressUsd,
                ["thawed_storage_usd"] = (double)e.ThawedStorageUsd,
                ["total_usd"] = (double)e.TotalUsd,
            }).ToList(),
        };
        ui.Event(planEvent);

        if (toRequest.Count == 0)
        {
            ui.Line(cold.Count(PackState.Thawing) > 0
                ? $"  nothing to request: every needed pack is ready or already thawing (ready {When(cold.Eta(), repo.Clock.GetUtcNow())})"
                : "  nothing to thaw: every needed pack is readable");
            return cold.Job;
        }

        ui.Line($"  to thaw now:  {N(toRequest.Count, "pack")}, {Format.Bytes(toRequest.Sum(p => p.Bytes))}, each copy kept {N(s.Days, "day")}{(s.InRegion ? ", read in region (no egress)" : "")}");
        ui.Line("");
        ui.Line($"  {"tier",-10} {"ready in",-20} {"retrieval",10} {"requests",10} {"egress",10} {"thawed copy",12} {"total",10}");
        foreach (TierEstimate e in estimates)
        {
            ui.Line($"  {e.Tier.ToString().ToLowerInvariant(),-10} {Range(e),-20} {Usd(e.RetrievalUsd),10} {Usd(e.RequestsUsd),10} {Usd(e.EgressUsd),10} {Usd(e.ThawedStorageUsd),12} {Usd(e.TotalUsd),10}");
        }
        ui.Line("");

        TierEstimate chosen = ChooseTier(estimates, s, props.ColdStorageClass);
        string tierName = chosen.Tier.ToString().ToLowerInvariant();
        if (expired.Count > 0)
        {
            TierEstimate again = CostModel.EstimateColdRead(prices, RestorePlan.ColdRead(props, expired, s.Days, s.InRegion)).First(e => e.Tier == chosen.Tier);
            ui.Line($"note: {N(expired.Count, "pack")} ({Format.Bytes(expired.Sum(p => p.Bytes))}) were thawed before and their thawed copies have expired; "
                + $"they are requested again, which costs {Usd(again.TotalUsd)} ({tierName}) of the total");
            ui.Event(new() { ["message_type"] = "note", ["note"] = "expired", ["packs_expired"] = expired.Count, ["bytes_expired"] = expired.Sum(p => p.Bytes), ["rerequest_usd"] = (double)again.TotalUsd });
        }
        RequireConsent(chosen, s, toRequest.Count,
            $"this {what} needs {N(toRequest.Count, "pack")} thawed ({Format.Bytes(toRequest.Sum(p => p.Bytes))}, about {Usd(chosen.TotalUsd)} at {tierName}, ready {ReadyIn(chosen, sim)}); nothing was requested. "
            + "Run it again with --yes to request the thaws (add --max-cost USD to cap the cost, --tier to choose the speed), or on a terminal to be asked");

        ThawJob? job = await cold.SubmitAsync(chosen.Tier, s.Days, chosen.TotalUsd, chosen.Slowest, new ThawSubmitOptions(Concurrency: props.Connections), ct);
        DateTimeOffset now = repo.Clock.GetUtcNow();
        ui.Line($"requested {N(toRequest.Count, "thaw")} at {tierName} (about {Usd(chosen.TotalUsd)}{(sim is not null ? ", simulated" : "")}); job {job?.ShortId}, ready {When(cold.Eta(), now)}");
        ui.Event(new()
        {
            ["message_type"] = "thaw_requested",
            ["job_id"] = job?.Id,
            ["tier"] = tierName,
            ["packs"] = toRequest.Count,
            ["bytes"] = toRequest.Sum(p => p.Bytes),
            ["estimated_usd"] = (double)chosen.TotalUsd,
            ["eta"] = cold.Eta(),
        });
        return job;
    }

    /// <summary>The tier to thaw at: --tier when given (refused by name when the class does not offer it), else the cheapest.</summary>
    public static TierEstimate ChooseTier(IReadOnlyList<TierEstimate> estimates, ColdSettings s, string coldClass)
    {
        if (s.Tier is { } wanted)
        {
            return estimates.FirstOrDefault(e => e.Tier == wanted)
                ?? throw new UserInputException($"--tier {wanted.ToString().ToLowerInvariant()} is not offered for {coldClass}; choose {string.Join(" or ", estimates.Select(e => e.Tier.ToString().ToLowerInvariant()))}");
        }
        return estimates.OrderBy(e => e.TotalUsd).ThenByDescending(e => e.Slowest).First();
    }

    /// <summary>
    /// Consent for a thaw of <paramref name="packs"/> packs at <paramref name="chosen"/>: refused above --max-cost;
    /// given by --yes, or by answering y on a terminal; anywhere else refused with <paramref name="refusal"/> (which
    /// should say how to consent). Every refusal is a <see cref="UserInputException"/> saying nothing was requested.
    /// </summary>
    public static void RequireConsent(TierEstimate chosen, ColdSettings s, int packs, string refusal)
    {
        string tierName = chosen.Tier.ToString().ToLowerInvariant();
        if (s.MaxCost is { } max && chosen.TotalUsd > max)
        {
            throw new UserInputException($"the thaw would cost {Usd(chosen.TotalUsd)} ({N(packs, "pack")} at {tierName}), more than --max-cost {Usd(max)}; nothing was requested");
        }
        if (s.Yes)
        {
            return;
        }
        if (Console.IsInputRedirected || Console.IsErrorRedirected)
        {
            throw new UserInputException(refusal);
        }
        Console.Error.Write($"Request {N(packs, "thaw")} at {tierName} for about {Usd(chosen.TotalUsd)}? [y/N] ");
        string? answer = Console.In.ReadLine();
        if (answer is null || !answer.Trim().StartsWith('y'))
        {
            throw new UserInputException("nothing was requested (answered no)");
        }
    }

    /// <summary>The closing words of a run that could not finish: what is left, when it should be ready, how to continue.</summary>
    public static string HowToResume(ColdRestore cold, long deferred, long deferredBytes, ColdWaitOutcome? outcome, string? resumeCommand, TimeProvider clock)
    {
        DateTimeOffset now = clock.GetUtcNow();
        string left = $"{N(deferred, "file")} ({Format.Bytes(deferredBytes)}) wait for {N(cold.Count(PackState.Thawing) + cold.Count(PackState.Frozen) + cold.Count(PackState.Expired), "pack")}";
        if (outcome == ColdWaitOutcome.NeedsRequest || cold.Count(PackState.Thawing) == 0)
        {
            return $"{left} that are frozen again (a thawed copy expired). Run the same command again to see the cost of requesting them again"
                + (cold.Job is not null && resumeCommand is not null ? $", or: {resumeCommand}" : "");
        }
        string when = When(cold.Eta(), now);
        string how = cold.Job is not null && resumeCommand is not null ? $"run the same command again, or: {resumeCommand}" : "run the same command again";
        return $"{left} still thawing, ready {when}. To continue, {how} (add --wait to stay until everything is restored)";
    }

    /// <summary>"about 2026-11-22 14:03:10 (in 3 seconds)", or "at an unknown time".</summary>
    public static string When(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } t)
        {
            return "at a time the store does not say";
        }
        TimeSpan d = t - now;
        string rel = d <= TimeSpan.Zero ? "now" : $"in {Duration(d)}";
        return $"about {t.ToLocalTime():yyyy-MM-dd HH:mm:ss} ({rel})";
    }

    /// <summary>How long a thaw at this tier takes: the simulated delay on a simulated tier, else the price table's range.</summary>
    public static string ReadyIn(TierEstimate e, ColdSimulation? sim) =>
        sim is null ? Range(e) : $"within {Duration(sim.DelayFor(e.Tier))} (simulated)";

    /// <summary>"1 pack", "3 packs".</summary>
    public static string N(long n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    /// <summary>Like <see cref="Format.Duration"/>, with fractions of a second (a simulation's short delays) and singulars.</summary>
    public static string Duration(TimeSpan t)
    {
        (double v, string unit) = t.TotalDays >= 1 ? (t.TotalDays, "day") : t.TotalHours >= 1 ? (t.TotalHours, "hour") : t.TotalMinutes >= 1 ? (t.TotalMinutes, "minute") : (t.TotalSeconds, "second");
        string num = v.ToString(unit == "second" && v < 10 ? "0.##" : "0.#", CultureInfo.InvariantCulture);
        return num == "1" ? $"1 {unit}" : $"{num} {unit}s";
    }

    public static string Range(TierEstimate e) =>
        e.Slowest == TimeSpan.Zero ? "at once"
        : e.Fastest == TimeSpan.Zero || e.Fastest == e.Slowest ? $"within {Duration(e.Slowest)}"
        : $"{Duration(e.Fastest)} to {Duration(e.Slowest)}";

    /// <summary>Dollars: cents from one cent up, four decimals below, "&lt;$0.0001" for less.</summary>
    public static string Usd(decimal v) =>
        v == 0 ? "$0.00"
        : v < 0.0001m ? "<$0.0001"
        : v < 0.01m ? "$" + v.ToString("0.0000", CultureInfo.InvariantCulture)
        : "$" + v.ToString("#,0.00", CultureInfo.InvariantCulture);
}
