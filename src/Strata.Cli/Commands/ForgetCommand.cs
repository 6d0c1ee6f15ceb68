using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

internal static class ForgetCommand
{
    private const string DataNote =
        "only the snapshot objects are deleted: the data they referenced stays in the repository until the prune, compact and purge steps remove what no snapshot uses";

    private static readonly Argument<string[]> Ids = new("snapshot-id") { Arity = ArgumentArity.ZeroOrMore, Description = "remove exactly these snapshots (id, unique id prefix, or 'latest') instead of applying rules" };
    private static readonly Option<string?> KeepLast = new("--keep-last", "-l") { Description = "keep the newest N snapshots ('unlimited': all)", HelpName = "N" };
    private static readonly Option<string?> KeepHourly = new("--keep-hourly", "-H") { Description = "keep the newest snapshot of each of the last N hours that have one ('unlimited': every hour)", HelpName = "N" };
    private static readonly Option<string?> KeepDaily = new("--keep-daily", "-d") { Description = "keep the newest snapshot of each of the last N days that have one", HelpName = "N" };
    private static readonly Option<string?> KeepWeekly = new("--keep-weekly", "-w") { Description = "keep the newest snapshot of each of the last N ISO weeks that have one", HelpName = "N" };
    private static readonly Option<string?> KeepMonthly = new("--keep-monthly", "-m") { Description = "keep the newest snapshot of each of the last N months that have one", HelpName = "N" };
    private static readonly Option<string?> KeepYearly = new("--keep-yearly", "-y") { Description = "keep the newest snapshot of each of the last N years that have one", HelpName = "N" };
    private static readonly Option<string?> KeepWithin = new("--keep-within") { Description = "keep every snapshot newer than DURATION before the group's newest snapshot (e.g. 2y5m7d3h)", HelpName = "DURATION" };
    private static readonly Option<string[]> KeepTag = new("--keep-tag") { Description = "keep every snapshot with this tag; 'a,b' needs both tags (repeatable: any of them)", HelpName = "TAGS" };
    private static readonly Option<int> MinKeep = new("--min-keep") { Description = "never keep fewer than N snapshots per group: when the rules keep fewer, the newest N are kept too", HelpName = "N" };
    private static readonly Option<string?> GroupBy = new("--group-by", "-g") { Description = "apply the rules per group of host, paths, tags, or a comma-separated subset; '' for one group (default host,paths)", HelpName = "FIELDS" };
    private static readonly Option<bool> DryRun = new("--dry-run", "-n") { Description = "print what would be kept and removed, and why; delete nothing" };

    public static Command Create()
    {
        var cmd = new Command("forget", "remove snapshots by retention rules (or by id); their data stays until prune, compact and purge");
        cmd.Arguments.Add(Ids);
        foreach (Option o in new Option[] { KeepLast, KeepHourly, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly, KeepWithin, KeepTag, MinKeep, GroupBy, DryRun })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static int Count(ParseResult p, Option<string?> o)
    {
        string? s = p.GetValue(o);
        if (s is null)
        {
            return 0;
        }
        if (s == "unlimited")
        {
            return -1;
        }
        if (!int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
        {
            throw new UserInputException($"{o.Name} {s}: expected a count of 0 or more, or 'unlimited'");
        }
        return n;
    }

    /// <summary>The policy from the options; throws (exit 2) for bad values. Rules given at all, for the ids-or-rules check.</summary>
    private static (RetentionPolicy Policy, bool AnyOption) ReadPolicy(ParseResult p)
    {
        string? within = p.GetValue(KeepWithin);
        string? groupBy = p.GetValue(GroupBy);
        string[] tags = p.GetValue(KeepTag) ?? [];
        var policy = new RetentionPolicy
        {
            Last = Count(p, KeepLast),
            Hourly = Count(p, KeepHourly),
            Daily = Count(p, KeepDaily),
            Weekly = Count(p, KeepWeekly),
            Monthly = Count(p, KeepMonthly),
            Yearly = Count(p, KeepYearly),
            Within = within is null ? default : RetentionDuration.Parse(within),
            Tags = [.. tags.Select(t => (IReadOnlyList<string>)[.. t.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)])],
            MinKeep = p.GetValue(MinKeep),
            GroupBy = groupBy is null ? RetentionGroupBy.Host | RetentionGroupBy.Paths : RetentionGroupByParser.Parse(groupBy),
        };
        policy.Validate();
        bool any = !policy.IsEmpty || policy.MinKeep != 0 || groupBy is not null;
        return (policy, any);
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        bool dryRun = p.GetValue(DryRun);
        string[] ids = p.GetValue(Ids) ?? [];
        var (policy, anyOption) = ReadPolicy(p);
        if (ids.Length > 0 && anyOption)
        {
            throw new UserInputException("give either snapshot ids or --keep-* rules, not both");
        }
        if (ids.Length == 0 && policy.IsEmpty)
        {
            throw new UserInputException("forget needs at least one rule (--keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within, --keep-tag) or snapshot ids; nothing was removed"
                + (policy.MinKeep > 0 ? " (--min-keep is a floor, not a rule)" : ""));
        }

        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        repo.RequireOwner("forget");
        ForgetPlan plan = ids.Length > 0
            ? await Forget.PlanByIdAsync(repo, ids, ct)
            : await Forget.PlanAsync(repo, policy, TimeZoneInfo.Local, ct);

        if (!json && !quiet)
        {
            PrintPlan(plan, policy);
        }
        int removed = 0;
        if (!dryRun && plan.Remove.Count > 0)
        {
            removed = await Forget.ApplyAsync(repo, plan, null, ct);
            // What is dead now, for the prompt in `strata snapshots` and `strata backup` (a warm walk of every tree).
            try
            {
                await repo.LoadIndexAsync(ct, keepCatalogs: true);
                DeadShare.Save(p, repo, await PrunePlanner.PlanAsync(repo, MaintenanceCommon.PricingFor(p, repo), new PruneSettings(), ct));
            }
            catch (Exception e) when (e is CorruptionException or UserInputException or StoreException)
            {
                Console.Error.WriteLine($"note: could not work out how much data is now unused ({e.Message}); strata prune shows it");
            }
        }

        if (json)
        {
            var doc = new ForgetJson(
                dryRun,
                plan.ById ? null : policy.Describe(),
                [.. plan.Groups.Select(g => new ForgetGroupJson(g.Host, g.Paths, g.Tags, [.. g.Kept.Select(ToJson)], [.. g.Removed.Select(ToJson)]))],
                [.. plan.Remove.Select(s => ToJson(new RetentionDecision(s, false, plan.ById ? ["named"] : [])))],
                removed,
                DataNote);
            Console.WriteLine(JsonSerializer.Serialize(doc, ForgetJsonContext.Default.ForgetJson));
        }
        else if (!quiet)
        {
            if (plan.Remove.Count == 0)
            {
                Console.WriteLine("no snapshot to remove");
            }
            else if (dryRun)
            {
                Console.WriteLine($"dry run: would remove {plan.Remove.Count} snapshots; nothing was changed");
                Console.WriteLine($"note: {DataNote}");
            }
            else
            {
                Console.WriteLine($"removed {removed} snapshots");
                Console.WriteLine($"note: {DataNote}");
            }
        }
        return ExitCodes.Ok;
    }

    private static ForgetSnapshotJson ToJson(RetentionDecision d) =>
        new(d.Snapshot.Id, d.Snapshot.Id[..Math.Min(8, d.Snapshot.Id.Length)], d.Snapshot.Time, d.Snapshot.Host, d.Snapshot.Paths, d.Snapshot.Tags, d.Reasons);

    private static void PrintPlan(ForgetPlan plan, RetentionPolicy policy)
    {
        if (plan.ById)
        {
            Console.WriteLine($"snapshots named on the command line ({plan.Remove.Count}):");
            PrintTable(plan.Remove.Select(s => new RetentionDecision(s, false, ["named"])).ToList(), showHost: true, showPaths: true);
            Console.WriteLine();
            return;
        }
        Console.WriteLine($"applying policy: {policy.Describe()}");
        Console.WriteLine();
        foreach (RetentionGroup g in plan.Groups)
        {
            var key = new List<string>();
            if (g.Host is not null)
            {
                key.Add($"host {g.Host}");
            }
            if (g.Paths is not null)
            {
                key.Add($"paths {string.Join(" ", g.Paths)}");
            }
            if (g.Tags is not null)
            {
                key.Add(g.Tags.Count == 0 ? "no tags" : $"tags {string.Join(",", g.Tags)}");
            }
            Console.WriteLine(key.Count == 0 ? "all snapshots:" : $"{string.Join(", ", key)}:");
            PrintTable(g.Decisions, showHost: g.Host is null, showPaths: g.Paths is null);
            Console.WriteLine($"keep {g.Kept.Count()}, remove {g.Removed.Count()}");
            Console.WriteLine();
        }
    }

    private static void PrintTable(IReadOnlyList<RetentionDecision> rows, bool showHost, bool showPaths)
    {
        bool showTags = rows.Any(r => r.Snapshot.Tags.Count > 0);
        var header = new List<string> { "ID", "Time" };
        if (showHost)
        {
            header.Add("Host");
        }
        if (showTags)
        {
            header.Add("Tags");
        }
        header.Add("Decision");
        header.Add("Reasons");
        if (showPaths)
        {
            header.Add("Paths");
        }
        var table = new List<string[]> { header.ToArray() };
        foreach (RetentionDecision r in rows)
        {
            var sn = r.Snapshot;
            var cells = new List<string> { sn.Id[..Math.Min(8, sn.Id.Length)], sn.Time.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) };
            if (showHost)
            {
                cells.Add(Trim(sn.Host, 20));
            }
            if (showTags)
            {
                cells.Add(Trim(string.Join(",", sn.Tags), 20));
            }
            cells.Add(r.Keep ? "keep" : "remove");
            cells.Add(r.Reasons.Count > 0 ? string.Join(", ", r.Reasons) : "-");
            if (showPaths)
            {
                cells.Add(string.Join(" ", sn.Paths));
            }
            table.Add([.. cells]);
        }
        int[] widths = [.. Enumerable.Range(0, header.Count).Select(c => table.Max(row => row[c].Length))];
        string Line(string[] row) => string.Join("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c])));
        Console.WriteLine(Line(table[0]));
        Console.WriteLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        foreach (string[] row in table.Skip(1))
        {
            Console.WriteLine(Line(row));
        }
    }

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}

internal sealed record ForgetSnapshotJson(string Id, string ShortId, DateTimeOffset Time, string Host, IReadOnlyList<string> Paths, IReadOnlyList<string> Tags, IReadOnlyList<string> Reasons);

/// <summary>One group: its key (fields not grouped by are left out), what is kept with the reasons, what is removed.</summary>
internal sealed record ForgetGroupJson(string? Host, IReadOnlyList<string>? Paths, IReadOnlyList<string>? Tags, IReadOnlyList<ForgetSnapshotJson> Keep, IReadOnlyList<ForgetSnapshotJson> Remove);

internal sealed record ForgetJson(bool DryRun, string? Policy, IReadOnlyList<ForgetGroupJson> Groups, IReadOnlyList<ForgetSnapshotJson> Removed, int RemovedCount, string Note)
{
    public string MessageType => "forget";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ForgetJson))]
internal sealed partial class ForgetJsonContext : JsonSerializerContext;
