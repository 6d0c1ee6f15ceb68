using Strata.Maintenance;
using Strata.Repository;

namespace Strata.Tests.Maintenance;

/// <summary>
/// restic's forget semantics on a fixed history. Every expected set below was worked out by hand from the calendar
/// (weekday and ISO week noted beside each snapshot), not by running the code.
/// </summary>
public sealed class RetentionTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeZoneInfo Utc = TimeZoneInfo.Utc;

    private static RetentionSnapshot S(string id, string utc, string host = "nas", string[]? paths = null, string[]? tags = null) =>
        new(id, DateTimeOffset.Parse(utc + "Z", System.Globalization.CultureInfo.InvariantCulture), host, paths ?? ["/home"], tags ?? []);

    /// <summary>Sixteen snapshots of one source over two years, newest first.</summary>
    private static readonly RetentionSnapshot[] History =
    [
        S("s01", "2026-11-22T10:00:00"), // Sun, ISO 2026-W47
        S("s02", "2026-11-22T03:00:00"), // Sun, W47, same day as s01
        S("s03", "2026-11-21T22:00:00"), // Sat, W47
        S("s04", "2026-11-20T09:00:00", tags: ["old"]), // Fri, W47
        S("s05", "2026-11-16T09:00:00"), // Mon, W47
        S("s06", "2026-11-15T09:00:00"), // Sun, W46
        S("s07", "2026-11-02T09:00:00"), // Mon, W45, still November
        S("s08", "2026-10-31T09:00:00"), // Sat, W44
        S("s09", "2026-10-01T09:00:00", tags: ["keep"]), // Thu, W40
        S("s10", "2026-06-15T09:00:00"), // Mon, W25
        S("s11", "2026-01-01T09:00:00"), // Thu, ISO 2026-W01
        S("s12", "2025-12-31T09:00:00"), // Wed, ISO 2026-W01 too: same week as s11, another year
        S("s13", "2025-06-01T09:00:00"), // Sun, 2025-W22
        S("s14", "2025-01-05T09:00:00"), // Sun, ISO 2025-W01
        S("s15", "2024-12-30T09:00:00"), // Mon, ISO 2025-W01 too: same week as s14
        S("s16", "2024-12-01T09:00:00", tags: ["keep", "old"]), // Sun, 2024-W48, the oldest
    ];

    private static readonly string[] All = [.. History.Select(h => h.Id)];

    private static List<string[]> Tags(params string[] lists) => [.. lists.Select(l => l.Split(','))];

    public static TheoryData<string, RetentionPolicy, string[]> Cases => new()
    {
        { "last 3", new() { Last = 3 }, ["s01", "s02", "s03"] },
        { "last more than there are", new() { Last = 20 }, All },
        { "hourly 3", new() { Hourly = 3 }, ["s01", "s02", "s03"] },
        { "daily 3: one per day, newest of each day", new() { Daily = 3 }, ["s01", "s03", "s04"] },
        { "daily 5", new() { Daily = 5 }, ["s01", "s03", "s04", "s05", "s06"] },
        { "daily unlimited: all but the second of a day", new() { Daily = -1 }, [.. All.Where(x => x != "s02")] },
        { "weekly 3", new() { Weekly = 3 }, ["s01", "s06", "s07"] },
        // ISO weeks: s12 shares 2026-W01 with s11 and s15 shares 2025-W01 with s14; s16 is kept by the tenth count.
        { "weekly 10 (ISO weeks)", new() { Weekly = 10 }, ["s01", "s06", "s07", "s08", "s09", "s10", "s11", "s13", "s14", "s16"] },
        { "monthly 4", new() { Monthly = 4 }, ["s01", "s08", "s10", "s11"] },
        { "yearly 3", new() { Yearly = 3 }, ["s01", "s12", "s15"] },
        // Count left after the last year boundary: restic keeps the oldest snapshot too (s16, same year as s15).
        { "yearly 5 keeps the oldest", new() { Yearly = 5 }, ["s01", "s12", "s15", "s16"] },
        { "within 1d of the newest", new() { Within = RetentionDuration.Parse("1d") }, ["s01", "s02", "s03"] },
        // The bound is exclusive: 7d1h before s01 is exactly s06's time.
        { "within 7d1h excludes the snapshot on the bound", new() { Within = RetentionDuration.Parse("7d1h") }, ["s01", "s02", "s03", "s04", "s05"] },
        { "within 7d2h", new() { Within = RetentionDuration.Parse("7d2h") }, ["s01", "s02", "s03", "s04", "s05", "s06"] },
        { "within 1y11m", new() { Within = RetentionDuration.Parse("1y11m") }, [.. All.Where(x => x != "s16")] },
        { "tag keep", new() { Tags = Tags("keep") }, ["s09", "s16"] },
        { "tag list keep,old needs both", new() { Tags = Tags("keep,old") }, ["s16"] },
        { "two tags: either", new() { Tags = Tags("keep", "old") }, ["s04", "s09", "s16"] },
        {
            "daily 3 + weekly 3 + monthly 3 + tag keep",
            new() { Daily = 3, Weekly = 3, Monthly = 3, Tags = Tags("keep") },
            ["s01", "s03", "s04", "s06", "s07", "s08", "s09", "s10", "s16"]
        },
        { "last 2 + yearly 2", new() { Last = 2, Yearly = 2 }, ["s01", "s02", "s12"] },
        // min-keep: the rules keep two, fewer than four, so the newest four are kept as well.
        { "min-keep overrides a thin policy", new() { Tags = Tags("keep"), MinKeep = 4 }, ["s01", "s02", "s03", "s04", "s09", "s16"] },
        { "min-keep below what the rules keep changes nothing", new() { Last = 3, MinKeep = 2 }, ["s01", "s02", "s03"] },
        { "min-keep with within", new() { Within = RetentionDuration.Parse("1d"), MinKeep = 5 }, ["s01", "s02", "s03", "s04", "s05"] },
        { "min-keep larger than the group keeps all", new() { Last = 1, MinKeep = 50 }, All },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_rule_alone_and_combined_keeps_the_expected_set(string name, RetentionPolicy policy, string[] expected)
    {
        var groups = Retention.Apply(History, policy, Now, Utc);

        RetentionGroup g = Assert.Single(groups);
        Assert.Equal(History.Length, g.Decisions.Count);
        Assert.True(expected.Order().SequenceEqual(g.Kept.Select(d => d.Snapshot.Id).Order()),
            $"{name}: expected [{string.Join(" ", expected)}], kept [{string.Join(" ", g.Kept.Select(d => d.Snapshot.Id))}]");
        Assert.All(g.Removed, d => Assert.Empty(d.Reasons));
        Assert.All(g.Kept, d => Assert.NotEmpty(d.Reasons));
    }

    [Fact]
    public void Decisions_come_newest_first_whatever_the_input_order()
    {
        var shuffled = History.Reverse().ToArray();
        var decisions = Retention.ApplyToGroup(shuffled, new RetentionPolicy { Last = 1 }, Now, Utc);
        Assert.Equal(All, decisions.Select(d => d.Snapshot.Id));
    }

    [Fact]
    public void A_snapshot_kept_by_several_rules_lists_them_all_in_restic_order()
    {
        var policy = new RetentionPolicy { Last = 1, Daily = 3, Weekly = 3, Monthly = 3, Within = RetentionDuration.Parse("30d"), Tags = Tags("keep") };
        var d = Retention.ApplyToGroup(History, policy, Now, Utc).ToDictionary(x => x.Snapshot.Id);

        Assert.Equal(["within 30d", "last snapshot", "daily snapshot", "weekly snapshot", "monthly snapshot"], d["s01"].Reasons);
        Assert.Equal(["within 30d"], d["s02"].Reasons);
        Assert.Equal(["within 30d", "monthly snapshot"], d["s08"].Reasons); // October's newest
        Assert.Equal(["tag 'keep'"], d["s09"].Reasons); // also October: the monthly rule took s08
        Assert.Equal(["monthly snapshot"], d["s10"].Reasons);
        Assert.Equal(["tag 'keep'"], d["s16"].Reasons);
        Assert.False(d["s11"].Keep);
    }

    [Fact]
    public void Min_keep_is_named_on_the_newest_snapshots_it_protects()
    {
        var d = Retention.ApplyToGroup(History, new RetentionPolicy { Tags = Tags("keep"), MinKeep = 3 }, Now, Utc).ToDictionary(x => x.Snapshot.Id);
        Assert.Equal([Retention.MinKeepReason], d["s01"].Reasons);
        Assert.Equal([Retention.MinKeepReason], d["s03"].Reasons);
        Assert.Empty(d["s04"].Reasons);
        Assert.Equal(["tag 'keep'"], d["s09"].Reasons);
    }

    [Fact]
    public void Within_is_measured_from_the_newest_snapshot_not_from_now()
    {
        // The last backup was four months before "now": within 1m still keeps the month before it.
        var stale = History.Skip(9).ToArray(); // s10 (2026-06-15) and older
        var kept = Retention.ApplyToGroup(stale, new RetentionPolicy { Within = RetentionDuration.Parse("1m") }, Now, Utc)
            .Where(x => x.Keep).Select(x => x.Snapshot.Id);
        Assert.Equal(["s10"], kept);
    }

    [Fact]
    public void A_snapshot_in_the_future_does_not_move_the_within_window()
    {
        var withFuture = History.Append(S("f01", "2026-12-25T00:00:00")).ToArray();
        var kept = Retention.ApplyToGroup(withFuture, new RetentionPolicy { Within = RetentionDuration.Parse("1d") }, Now, Utc)
            .Where(x => x.Keep).Select(x => x.Snapshot.Id);
        Assert.Equal(["f01", "s01", "s02", "s03"], kept);
    }

    [Fact]
    public void Within_months_normalise_like_go_AddDate()
    {
        // 31 March minus one month is "31 February", which Go (and so restic) normalises to 3 March.
        // A snapshot on 1 March is therefore outside "1m"; clamping to 28 February would keep it.
        var list = new[] { S("a", "2026-03-31T12:00:00"), S("b", "2026-03-01T12:00:00"), S("c", "2026-03-04T12:00:00") };
        var kept = Retention.ApplyToGroup(list, new RetentionPolicy { Within = RetentionDuration.Parse("1m") }, Now, Utc)
            .Where(x => x.Keep).Select(x => x.Snapshot.Id);
        Assert.Equal(["a", "c"], kept);
    }

    [Fact]
    public void Buckets_use_the_local_wall_clock()
    {
        var plus5 = TimeZoneInfo.CreateCustomTimeZone("test+05", TimeSpan.FromHours(5), "test+05", "test+05");
        var list = new[]
        {
            S("z", "2026-11-22T06:00:00"), // 22 Nov both in UTC and at +05 (11:00)
            S("x", "2026-11-21T20:00:00"), // 21 Nov in UTC, 22 Nov 01:00 at +05
            S("y", "2026-11-21T10:00:00"), // 21 Nov in both (15:00 at +05)
        };
        var policy = new RetentionPolicy { Daily = 2 };
        Assert.Equal(["z", "x"], Retention.ApplyToGroup(list, policy, Now, Utc).Where(d => d.Keep).Select(d => d.Snapshot.Id));
        Assert.Equal(["z", "y"], Retention.ApplyToGroup(list, policy, Now, plus5).Where(d => d.Keep).Select(d => d.Snapshot.Id));
    }

    private static readonly RetentionSnapshot[] Machines =
    [
        S("a", "2026-11-20T00:00:00", "nas", ["/home"]),
        S("b", "2026-11-21T00:00:00", "nas", ["/home"]),
        S("c", "2026-11-19T00:00:00", "nas", ["/srv"]),
        S("d", "2026-11-22T00:00:00", "laptop", ["/home"]),
        S("e", "2026-11-18T00:00:00", "laptop", ["/home"], ["daily"]),
    ];

    public static TheoryData<string, string[], int> Groupings => new()
    {
        { "host,paths", ["b", "c", "d"], 3 },
        { "host", ["b", "d"], 2 },
        { "paths", ["c", "d"], 2 },
        { "tags", ["d", "e"], 2 },
        { "host,paths,tags", ["b", "c", "d", "e"], 4 },
        { "", ["d"], 1 },
    };

    [Theory]
    [MemberData(nameof(Groupings))]
    public void Keep_last_applies_per_group(string groupBy, string[] expected, int groupCount)
    {
        var policy = new RetentionPolicy { Last = 1, GroupBy = RetentionGroupByParser.Parse(groupBy) };
        var groups = Retention.Apply(Machines, policy, Now, Utc);
        Assert.Equal(groupCount, groups.Count);
        Assert.Equal(expected.Order(), groups.SelectMany(g => g.Kept).Select(d => d.Snapshot.Id).Order());
        Assert.Equal(Machines.Length, groups.Sum(g => g.Decisions.Count));
    }

    [Fact]
    public void Group_keys_name_only_the_grouped_fields_and_sort_paths()
    {
        var list = new[] { S("p", "2026-11-20T00:00:00", paths: ["/b", "/a"]), S("q", "2026-11-21T00:00:00", paths: ["/a", "/b"]) };
        var groups = Retention.Apply(list, new RetentionPolicy { Last = 1 }, Now, Utc);
        RetentionGroup g = Assert.Single(groups);
        Assert.Equal("nas", g.Host);
        Assert.Equal(["/a", "/b"], g.Paths!);
        Assert.Null(g.Tags);
        Assert.Equal(["q"], g.Kept.Select(d => d.Snapshot.Id));

        var byHost = Assert.Single(Retention.Apply(list, new RetentionPolicy { Last = 1, GroupBy = RetentionGroupBy.Host }, Now, Utc));
        Assert.Null(byHost.Paths);
    }

    [Fact]
    public void An_empty_policy_keeps_everything_and_min_keep_is_not_a_rule()
    {
        Assert.True(new RetentionPolicy().IsEmpty);
        Assert.True(new RetentionPolicy { MinKeep = 3 }.IsEmpty);
        Assert.False(new RetentionPolicy { Tags = Tags("x") }.IsEmpty);
        Assert.All(Retention.ApplyToGroup(History, new RetentionPolicy { MinKeep = 3 }, Now, Utc), d => Assert.True(d.Keep));
    }

    [Theory]
    [InlineData("2y5m7d3h", 2, 5, 7, 3, "2y5m7d3h")]
    [InlineData("30d", 0, 0, 30, 0, "30d")]
    [InlineData("3h1y", 1, 0, 0, 3, "1y3h")]
    [InlineData(" 1m ", 0, 1, 0, 0, "1m")]
    public void Durations_parse_as_restic_writes_them(string text, int y, int m, int d, int h, string shown)
    {
        var dur = RetentionDuration.Parse(text);
        Assert.Equal(new RetentionDuration(y, m, d, h), dur);
        Assert.Equal(shown, dur.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5w")]
    [InlineData("d")]
    [InlineData("-1d")]
    [InlineData("99999999999d")]
    public void Bad_durations_are_refused_with_a_message(string text)
    {
        var e = Assert.Throws<UserInputException>(() => RetentionDuration.Parse(text));
        Assert.Contains("duration", e.Message);
    }

    [Fact]
    public void Validate_refuses_what_restic_refuses()
    {
        Assert.Throws<UserInputException>(() => new RetentionPolicy { Daily = -2 }.Validate());
        Assert.Throws<UserInputException>(() => new RetentionPolicy { MinKeep = -1 }.Validate());
        Assert.Throws<UserInputException>(() => new RetentionPolicy { Tags = [[""]] }.Validate());
        Assert.Throws<UserInputException>(() => RetentionGroupByParser.Parse("host,user"));
        new RetentionPolicy { Daily = -1, Tags = Tags("a,b") }.Validate();
    }
}
