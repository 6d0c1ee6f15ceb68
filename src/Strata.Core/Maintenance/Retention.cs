using System.Globalization;
using Strata.Repository;

namespace Strata.Maintenance;

/// <summary>
/// A calendar duration for --keep-within, as restic writes it: "2y5m7d3h" (years, months, days, hours; any subset,
/// any order, each unit once at most; the last of a repeated unit wins, as in restic).
/// </summary>
public readonly record struct RetentionDuration(int Years, int Months, int Days, int Hours)
{
    public bool IsZero => Years == 0 && Months == 0 && Days == 0 && Hours == 0;

    /// <summary>Parses "2y5m7d3h"; throws <see cref="UserInputException"/> naming what is wrong.</summary>
    public static RetentionDuration Parse(string text)
    {
        string s = text.Trim();
        if (s.Length == 0)
        {
            throw new UserInputException("empty duration: write it as restic does, e.g. 2y5m7d3h (years, months, days, hours)");
        }
        int years = 0, months = 0, days = 0, hours = 0;
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }
            if (i == start)
            {
                throw new UserInputException($"duration '{text}': expected a number at '{s[start..]}' (e.g. 2y5m7d3h)");
            }
            if (!int.TryParse(s.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out int n))
            {
                throw new UserInputException($"duration '{text}': {s[start..i]} is too large");
            }
            if (i == s.Length)
            {
                throw new UserInputException($"duration '{text}': no unit after {n} (use y, m, d or h)");
            }
            switch (s[i])
            {
                case 'y': years = n; break;
                case 'm': months = n; break;
                case 'd': days = n; break;
                case 'h': hours = n; break;
                default: throw new UserInputException($"duration '{text}': unknown unit '{s[i]}' after {n} (use y, m, d or h)");
            }
            i++;
        }
        return new RetentionDuration(years, months, days, hours);
    }

    /// <summary>"2y5m7d3h", leaving out zero units (restic's form, used in reasons such as "within 30d").</summary>
    public override string ToString()
    {
        string s = (Years != 0 ? $"{Years}y" : "") + (Months != 0 ? $"{Months}m" : "") + (Days != 0 ? $"{Days}d" : "") + (Hours != 0 ? $"{Hours}h" : "");
        return s.Length == 0 ? "0h" : s;
    }

    /// <summary>
    /// The instant this duration before <paramref name="t"/>: years, months and days are subtracted on the wall clock of
    /// <paramref name="zone"/> with Go's normalisation (31 March minus one month is 3 March, not 28 February, as restic's
    /// time.AddDate), then hours as elapsed time.
    /// </summary>
    public DateTimeOffset Before(DateTimeOffset t, TimeZoneInfo zone)
    {
        DateTime wall = TimeZoneInfo.ConvertTime(t, zone).DateTime;
        long monthIndex = (long)(wall.Year - Years) * 12 + (wall.Month - 1) - Months;
        long year = Math.DivRem(monthIndex, 12, out long rem);
        if (rem < 0)
        {
            rem += 12;
            year--;
        }
        if (year < 1)
        {
            return DateTimeOffset.MinValue;
        }
        try
        {
            DateTime shifted = new DateTime((int)year, (int)rem + 1, 1).Add(wall.TimeOfDay).AddDays(wall.Day - 1 - (double)Days);
            var local = new DateTimeOffset(shifted, zone.GetUtcOffset(shifted));
            return local.UtcDateTime.Ticks < TimeSpan.TicksPerHour * (long)Hours ? DateTimeOffset.MinValue : local.AddHours(-Hours);
        }
        catch (ArgumentOutOfRangeException)
        {
            return DateTimeOffset.MinValue; // before year 1: every snapshot is after it
        }
    }
}

/// <summary>Which snapshot fields form a retention group (restic's --group-by).</summary>
[Flags]
public enum RetentionGroupBy
{
    None = 0,
    Host = 1,
    Paths = 2,
    Tags = 4,
}

public static class RetentionGroupByParser
{
    /// <summary>Parses "host,paths,tags" or any subset ("" groups nothing: one group for all snapshots).</summary>
    public static RetentionGroupBy Parse(string text)
    {
        var g = RetentionGroupBy.None;
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            g |= part switch
            {
                "host" or "hosts" => RetentionGroupBy.Host,
                "path" or "paths" => RetentionGroupBy.Paths,
                "tag" or "tags" => RetentionGroupBy.Tags,
                _ => throw new UserInputException($"--group-by: unknown field '{part}' (use host, paths, tags, or a comma-separated subset; '' for no grouping)"),
            };
        }
        return g;
    }
}

/// <summary>
/// Which snapshots to keep, as restic's forget policy. A count of 0 leaves the rule off; -1 is "unlimited" (one per
/// bucket, all the way back). <see cref="MinKeep"/> is a floor, not a rule: a policy with only MinKeep is empty.
/// </summary>
public sealed record RetentionPolicy
{
    public int Last { get; init; }
    public int Hourly { get; init; }
    public int Daily { get; init; }
    public int Weekly { get; init; }
    public int Monthly { get; init; }
    public int Yearly { get; init; }
    public RetentionDuration Within { get; init; }
    /// <summary>Each entry is one --keep-tag: a snapshot matches when it has every tag of that entry.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Tags { get; init; } = [];
    /// <summary>Never keep fewer than this many snapshots per group: when the rules keep fewer, the newest MinKeep are kept too.</summary>
    public int MinKeep { get; init; }
    public RetentionGroupBy GroupBy { get; init; } = RetentionGroupBy.Host | RetentionGroupBy.Paths;

    /// <summary>No keep rule is given (MinKeep and GroupBy are not rules).</summary>
    public bool IsEmpty => Last == 0 && Hourly == 0 && Daily == 0 && Weekly == 0 && Monthly == 0 && Yearly == 0 && Within.IsZero && Tags.Count == 0;

    /// <summary>Throws <see cref="UserInputException"/> for values restic refuses too (negative counts other than -1, negative durations, empty tags).</summary>
    public void Validate()
    {
        foreach (var (name, n) in new[] { ("last", Last), ("hourly", Hourly), ("daily", Daily), ("weekly", Weekly), ("monthly", Monthly), ("yearly", Yearly) })
        {
            if (n < -1)
            {
                throw new UserInputException($"--keep-{name} {n}: negative counts are not allowed (use 'unlimited' to keep one per bucket all the way back)");
            }
        }
        if (Within.Years < 0 || Within.Months < 0 || Within.Days < 0 || Within.Hours < 0)
        {
            throw new UserInputException($"--keep-within {Within}: negative durations are not allowed");
        }
        if (MinKeep < 0)
        {
            throw new UserInputException($"--min-keep {MinKeep}: must be 0 or more");
        }
        if (Tags.Any(t => t.Count == 0 || t.Any(string.IsNullOrWhiteSpace)))
        {
            throw new UserInputException("--keep-tag needs a tag (or a comma-separated list of tags a snapshot must all have)");
        }
    }

    /// <summary>The policy in words, as restic prints it: "keep 7 daily, 4 weekly snapshots and all snapshots within 30d of the newest".</summary>
    public string Describe()
    {
        var counts = new List<string>();
        foreach (var (n, what) in new[] { (Last, "latest"), (Hourly, "hourly"), (Daily, "daily"), (Weekly, "weekly"), (Monthly, "monthly"), (Yearly, "yearly") })
        {
            if (n > 0)
            {
                counts.Add($"{n} {what}");
            }
            else if (n == -1)
            {
                counts.Add($"all {what}");
            }
        }
        var parts = new List<string>();
        if (counts.Count > 0)
        {
            parts.Add(string.Join(", ", counts) + " snapshots");
        }
        if (Tags.Count > 0)
        {
            parts.Add("all snapshots tagged " + string.Join(" or ", Tags.Select(t => "'" + string.Join(",", t) + "'")));
        }
        if (!Within.IsZero)
        {
            parts.Add($"all snapshots within {Within} of the newest");
        }
        string s = parts.Count == 0 ? "keep everything (no rule)" : "keep " + string.Join(" and ", parts);
        return MinKeep > 0 ? s + $", and never fewer than {MinKeep} per group" : s;
    }
}

/// <summary>What retention needs of a snapshot: nothing of its contents.</summary>
public sealed record RetentionSnapshot(string Id, DateTimeOffset Time, string Host, IReadOnlyList<string> Paths, IReadOnlyList<string> Tags);

/// <summary>One snapshot's fate, with every rule that keeps it (empty when it is removed).</summary>
public sealed record RetentionDecision(RetentionSnapshot Snapshot, bool Keep, IReadOnlyList<string> Reasons);

/// <summary>
/// One group and its decisions, newest first. Host, Paths and Tags are the group key; each is null when the
/// policy does not group by it.
/// </summary>
public sealed record RetentionGroup(string? Host, IReadOnlyList<string>? Paths, IReadOnlyList<string>? Tags, IReadOnlyList<RetentionDecision> Decisions)
{
    public IEnumerable<RetentionDecision> Kept => Decisions.Where(d => d.Keep);
    public IEnumerable<RetentionDecision> Removed => Decisions.Where(d => !d.Keep);
}

/// <summary>
/// restic's forget policy (internal/restic/snapshot_policy.go) as a pure function, plus Strata's --min-keep floor.
/// Per group, snapshots are walked newest first. --keep-tag and --keep-within keep every match. Each count rule
/// (last, hourly, daily, weekly, monthly, yearly) has a bucket function of the snapshot's local wall time (ISO
/// 8601 weeks for weekly); a snapshot is kept by a rule when its bucket differs from the previous one that rule kept
/// and the rule has count left (-1: unlimited); the oldest snapshot of the group is kept by every rule that still has
/// count left, which keeps the longest history. --keep-within is measured back from the group's newest snapshot
/// that is not in the future, not from now: a repository whose backups stopped keeps its last ones. A snapshot
/// kept by several rules lists all of them.
/// </summary>
public static class Retention
{
    public const string MinKeepReason = "min-keep";

    /// <summary>Groups the snapshots and decides each. Groups come out sorted by host, paths, tags.</summary>
    public static IReadOnlyList<RetentionGroup> Apply(IEnumerable<RetentionSnapshot> snapshots, RetentionPolicy policy, DateTimeOffset now, TimeZoneInfo zone)
    {
        bool byHost = policy.GroupBy.HasFlag(RetentionGroupBy.Host);
        bool byPaths = policy.GroupBy.HasFlag(RetentionGroupBy.Paths);
        bool byTags = policy.GroupBy.HasFlag(RetentionGroupBy.Tags);
        var groups = new Dictionary<string, (string? Host, string[]? Paths, string[]? Tags, List<RetentionSnapshot> Members)>(StringComparer.Ordinal);
        foreach (RetentionSnapshot s in snapshots)
        {
            string? host = byHost ? s.Host : null;
            string[]? paths = byPaths ? [.. s.Paths.Order(StringComparer.Ordinal)] : null;
            string[]? tags = byTags ? [.. s.Tags.Distinct().Order(StringComparer.Ordinal)] : null;
            string key = string.Join('\0', host ?? "", paths is null ? "" : string.Join('\u0001', paths), tags is null ? "" : string.Join('\u0001', tags));
            if (!groups.TryGetValue(key, out var g))
            {
                g = (host, paths, tags, []);
                groups[key] = g;
            }
            g.Members.Add(s);
        }
        return groups.Values
            .OrderBy(g => g.Host ?? "", StringComparer.Ordinal)
            .ThenBy(g => g.Paths is null ? "" : string.Join('\n', g.Paths), StringComparer.Ordinal)
            .ThenBy(g => g.Tags is null ? "" : string.Join('\n', g.Tags), StringComparer.Ordinal)
            .Select(g => new RetentionGroup(g.Host, g.Paths, g.Tags, ApplyToGroup(g.Members, policy, now, zone)))
            .ToList();
    }

    /// <summary>Decides one group's snapshots; returns them newest first (ties: by id, so the result is deterministic).</summary>
    public static IReadOnlyList<RetentionDecision> ApplyToGroup(IReadOnlyList<RetentionSnapshot> group, RetentionPolicy policy, DateTimeOffset now, TimeZoneInfo zone)
    {
        var list = group.OrderByDescending(s => s.Time).ThenBy(s => s.Id, StringComparer.Ordinal).ToList();
        var reasons = new List<string>[list.Count];
        for (int i = 0; i < list.Count; i++)
        {
            reasons[i] = [];
        }
        if (list.Count == 0)
        {
            return [];
        }
        if (policy.IsEmpty)
        {
            return list.Select(s => new RetentionDecision(s, true, ["policy is empty"])).ToList();
        }

        var buckets = new (int Count, Func<DateTime, int, long> Bucket, long Last, string Reason)[]
        {
            (policy.Last, (_, nr) => nr, long.MinValue, "last snapshot"),
            (policy.Hourly, (d, _) => ((d.Year * 100L + d.Month) * 100 + d.Day) * 100 + d.Hour, long.MinValue, "hourly snapshot"),
            (policy.Daily, (d, _) => (d.Year * 100L + d.Month) * 100 + d.Day, long.MinValue, "daily snapshot"),
            (policy.Weekly, (d, _) => ISOWeek.GetYear(d) * 100L + ISOWeek.GetWeekOfYear(d), long.MinValue, "weekly snapshot"),
            (policy.Monthly, (d, _) => d.Year * 100L + d.Month, long.MinValue, "monthly snapshot"),
            (policy.Yearly, (d, _) => d.Year, long.MinValue, "yearly snapshot"),
        };

        DateTimeOffset? withinAfter = null;
        if (!policy.Within.IsZero)
        {
            // restic: relative to the newest snapshot that is not in the future; with none, every snapshot is within.
            DateTimeOffset? latest = null;
            foreach (RetentionSnapshot s in list)
            {
                if (s.Time < now && (latest is null || s.Time > latest))
                {
                    latest = s.Time;
                }
            }
            withinAfter = latest is { } l ? policy.Within.Before(l, zone) : DateTimeOffset.MinValue;
        }

        var keep = new bool[list.Count];
        for (int nr = 0; nr < list.Count; nr++)
        {
            RetentionSnapshot cur = list[nr];
            List<string> why = reasons[nr];
            foreach (IReadOnlyList<string> tagList in policy.Tags)
            {
                if (tagList.All(t => cur.Tags.Contains(t, StringComparer.Ordinal)))
                {
                    why.Add($"tag '{string.Join(",", tagList)}'");
                }
            }
            if (withinAfter is { } after && cur.Time > after)
            {
                why.Add($"within {policy.Within}");
            }
            DateTime wall = TimeZoneInfo.ConvertTime(cur.Time, zone).DateTime;
            for (int b = 0; b < buckets.Length; b++)
            {
                ref var bucket = ref buckets[b];
                if (bucket.Count is > 0 or -1)
                {
                    long value = bucket.Bucket(wall, nr);
                    if (value != bucket.Last || nr == list.Count - 1)
                    {
                        bucket.Last = value;
                        if (bucket.Count > 0)
                        {
                            bucket.Count--;
                        }
                        why.Add(bucket.Reason);
                    }
                }
            }
            keep[nr] = why.Count > 0;
        }

        if (policy.MinKeep > 0 && keep.Count(k => k) < policy.MinKeep)
        {
            for (int nr = 0; nr < Math.Min(policy.MinKeep, list.Count); nr++)
            {
                keep[nr] = true;
                reasons[nr].Add(MinKeepReason);
            }
        }

        return list.Select((s, nr) => new RetentionDecision(s, keep[nr], reasons[nr])).ToList();
    }
}
