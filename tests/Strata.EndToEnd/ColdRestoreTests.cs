using System.Text.Json;
using Strata.Costs;
using Strata.EndToEnd.Infrastructure;
using Strata.Stores;

namespace Strata.EndToEnd;

/// <summary>
/// Restore from the simulated cold tier, as a user runs it: `init --simulate-cold 3s`, a backup, then restores that plan,
/// price, refuse without consent or above --max-cost, thaw part of the data, restore what is ready, resume in a new
/// process with --wait, and request an expired thaw again with a note. Real processes, real (short) delays.
/// </summary>
public sealed class ColdRestoreTests : IDisposable
{
    private const double DelaySeconds = 3;
    private const double DaySeconds = 4;
    private readonly Sandbox _box = new("cold");
    private readonly Dictionary<string, string?> _env;
    private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);

    public ColdRestoreTests()
    {
        _env = _box.Env();
        // Only the shipped price table: no user override file may change the numbers.
        _env["XDG_CONFIG_HOME"] = Path.Combine(_box.Root, "config");
        _env["STRATA_PRICES"] = null;
    }

    public void Dispose() => _box.Dispose();

    private Task<CliResult> Strata(params string[] args) => _box.StrataWith(_env, args);

    private async Task SetUpAsync()
    {
        CliAssert.Ok(await Strata("init", "--simulate-cold", $"{DelaySeconds}s", "--simulate-day", $"{DaySeconds}s", "--pack-size", "1MiB"));
        _files["docs/c.txt"] = _box.Write("docs/c.txt", Sandbox.RandomBytes(300_000, 3));
        _files["docs/d.txt"] = _box.Write("docs/d.txt", Sandbox.RandomBytes(200_000, 4));
        _files["photos/a.jpg"] = _box.Write("photos/a.jpg", Sandbox.RandomBytes(1_600_000, 1));
        // Large enough to be cut into chunks for certain, so its later chunks land in a pack a.jpg does not use
        // (with 1.4 MB it stayed one chunk about one time in five, sharing a.jpg's last pack and thawing everything).
        _files["photos/b.jpg"] = _box.Write("photos/b.jpg", Sandbox.RandomBytes(3_000_000, 2));
        CliAssert.Ok(await Strata("backup", _box.Source));
    }

    private bool IsRestored(string target, string key) =>
        File.Exists(Sandbox.Restored(target, _files[key])) && File.ReadAllBytes(Sandbox.Restored(target, _files[key])).AsSpan().SequenceEqual(File.ReadAllBytes(_files[key]));

    private List<long> DataPackSizes() =>
        Directory.EnumerateFiles(Path.Combine(_box.Repo, "data"), "*", SearchOption.AllDirectories).Select(f => new FileInfo(f).Length).ToList();

    private bool AnyThawRequested() => Directory.Exists(Path.Combine(_box.Repo, ".thaw")) && Directory.EnumerateFiles(Path.Combine(_box.Repo, ".thaw")).Any();

    private int ThawRecords() => Directory.Exists(Path.Combine(_box.Repo, "thaws")) ? Directory.EnumerateFiles(Path.Combine(_box.Repo, "thaws")).Count() : 0;

    [Fact]
    public async Task Plan_IsPricedFromThePriceTable_AndNothingIsRequestedWithoutConsentOrAboveMaxCost()
    {
        await SetUpAsync();
        string target = _box.NewTarget("restore");

        CliResult text = await Strata("restore", "latest", "--target", target);
        CliAssert.FailsCleanly(2, text, "--yes", "nothing was requested");
        Assert.Contains("SIMULATION", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("DEEP_ARCHIVE", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("bulk", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("standard", text.Stdout, StringComparison.Ordinal);

        CliResult json = await Strata("--json", "restore", "latest", "--target", target);
        CliAssert.Exit(2, json);
        JsonElement plan = Assert.Single(json.JsonMessages("plan"));
        // Every data pack but the band record (one per backup) is needed, whole.
        List<long> sizes = DataPackSizes();
        int packs = plan.GetProperty("cold_packs").GetInt32();
        long bytes = plan.GetProperty("cold_bytes").GetInt64();
        Assert.Equal(sizes.Count - 1, packs);
        Assert.Contains(sizes, band => sizes.Sum() - band == bytes);
        Assert.Equal(4, plan.GetProperty("files").GetInt32());
        Assert.Equal(_files.Values.Sum(f => new FileInfo(f).Length), plan.GetProperty("file_bytes").GetInt64());
        Assert.Equal(packs, plan.GetProperty("packs_frozen").GetInt32());
        Assert.True(plan.GetProperty("simulated").GetBoolean());
        // The price of each tier is the cost model's for exactly these packs, 7 days, not in region.
        var expected = CostModel.EstimateColdRead(PriceTable.LoadDefault(), new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, packs, 7, false));
        var tiers = plan.GetProperty("tiers").EnumerateArray().ToList();
        Assert.Equal(expected.Count, tiers.Count);
        foreach (TierEstimate e in expected)
        {
            JsonElement t = tiers.Single(x => x.GetProperty("tier").GetString() == e.Tier.ToString().ToLowerInvariant());
            Assert.Equal((double)e.TotalUsd, t.GetProperty("total_usd").GetDouble(), 12);
            Assert.Equal((double)e.RetrievalUsd, t.GetProperty("retrieval_usd").GetDouble(), 12);
            Assert.Equal((double)e.RequestsUsd, t.GetProperty("requests_usd").GetDouble(), 12);
            Assert.Equal((double)e.ThawedStorageUsd, t.GetProperty("thawed_storage_usd").GetDouble(), 12);
            Assert.Equal(e.Slowest.TotalSeconds, t.GetProperty("slowest_seconds").GetDouble());
        }

        CliResult capped = await Strata("restore", "latest", "--target", target, "--yes", "--max-cost", "0.00000001");
        CliAssert.FailsCleanly(2, capped, "--max-cost", "more than", "nothing was requested");
        Assert.False(AnyThawRequested(), "a refused restore must not request a thaw");
        Assert.Equal(0, ThawRecords());
        Assert.False(Directory.Exists(Sandbox.Restored(target, _box.Source)), "a refused restore must not write files");

        // check --read-data needs the frozen packs too: priced, and refused without consent, nothing requested.
        CliResult check = await Cli.RunAsync(["--repo", _box.Repo, "check", "--read-data"], _env, timeout: TimeSpan.FromSeconds(60));
        CliAssert.FailsCleanly(2, check, "--yes", "nothing was requested");
        Assert.Contains("DEEP_ARCHIVE", check.Stderr, StringComparison.Ordinal);
        Assert.False(AnyThawRequested(), "a refused check must not request a thaw");
    }

    [Fact]
    public async Task PartialThaw_RestoresWhatIsReady_ResumeWaitsForTheRest_AndAnExpiredThawIsRequestedAgain()
    {
        await SetUpAsync();
        string target = _box.NewTarget("restore");

        // 1. Only photos/a.jpg first. Its packs are requested; nothing is readable yet, so the run says how to resume.
        CliResult first = await Strata("restore", "latest", "--target", target, "--include", "photos/a.jpg", "--yes", "--days", "2");
        CliAssert.Exit(5, first);
        Assert.Contains("requested", first.Stdout, StringComparison.Ordinal);
        Assert.Contains("strata restore --resume", first.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, ThawRecords());
        await Task.Delay(TimeSpan.FromSeconds(DelaySeconds + 0.5));

        // 2. Everything: a.jpg's packs are ready, so it is written now; the rest is requested and deferred.
        CliResult all = await Strata("--json", "restore", "latest", "--target", target, "--yes", "--days", "2");
        CliAssert.Exit(5, all);
        JsonElement plan = Assert.Single(all.JsonMessages("plan"));
        Assert.True(plan.GetProperty("packs_ready").GetInt32() > 0);
        Assert.True(plan.GetProperty("packs_to_thaw").GetInt32() > 0);
        JsonElement summary = all.Summary;
        string job = summary.GetProperty("job_id").GetString()!;
        Assert.True(IsRestored(target, "photos/a.jpg"), all.ToString());
        Assert.True(summary.GetProperty("files_deferred").GetInt64() >= 1, all.ToString());
        Assert.Contains(_files.Keys, k => !File.Exists(Sandbox.Restored(target, _files[k])));
        Assert.Equal(2, ThawRecords());

        // 3. A new process resumes the job and waits: nothing is requested again, the rest is restored.
        CliResult resumed = await Strata("restore", "--resume", job[..8], "--wait");
        CliAssert.Ok(resumed);
        Assert.Contains("nothing to request", resumed.Stdout, StringComparison.Ordinal);
        Assert.Matches("\\d+ of \\d+ packs ready", resumed.Stdout);
        Assert.DoesNotContain("requested", resumed.Stdout.Replace("nothing to request", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.All(_files.Keys, k => Assert.True(IsRestored(target, k), $"{k}\n{resumed}"));

        CliResult thaws = await Strata("--json", "thaws");
        CliAssert.Ok(thaws);
        var jobs = JsonDocument.Parse(thaws.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, jobs.Count);
        // The full restore's job is done; the first one (a.jpg alone) was never run again, so its packs just show as ready.
        JsonElement full = jobs.Single(j => j.GetProperty("job_id").GetString() == job);
        Assert.Equal("completed", full.GetProperty("state").GetString());
        Assert.Equal("bulk", full.GetProperty("tier").GetString());
        Assert.Equal(2, full.GetProperty("days").GetInt32());
        Assert.True(full.GetProperty("estimated_usd").GetDouble() > 0);
        JsonElement onlyA = jobs.Single(j => j.GetProperty("job_id").GetString() != job);
        Assert.Equal("ready", onlyA.GetProperty("state").GetString());
        Assert.Equal(["photos/a.jpg"], onlyA.GetProperty("includes").EnumerateArray().Select(x => x.GetString()));

        // 4. The thawed copies last 2 simulated days (8 s). Afterwards a restore elsewhere finds them expired,
        //    says so with the cost of asking again, and asks again.
        await Task.Delay(TimeSpan.FromSeconds((2 * DaySeconds) + 1));
        CliResult listed = await Strata("--json", "thaws");
        CliAssert.Ok(listed);
        Assert.All(JsonDocument.Parse(listed.Stdout).RootElement.EnumerateArray(), j => Assert.Equal(j.GetProperty("packs").GetInt32(), j.GetProperty("packs_expired").GetInt32()));
        string target2 = _box.NewTarget("restore2");
        CliResult expired = await Strata("restore", "latest", "--target", target2, "--yes");
        CliAssert.Exit(5, expired);
        Assert.Matches("note: \\d+ packs? .* were thawed before and their thawed copies have expired; they are requested again, which costs (<)?\\$[0-9.]+", expired.Stdout);
        Assert.Matches("state: +0 ready .* 0 frozen, \\d+ expired", expired.Stdout);

        CliResult waited = await Strata("restore", "latest", "--target", target2, "--wait");
        CliAssert.Ok(waited);
        Assert.All(_files.Keys, k => Assert.True(IsRestored(target2, k), $"{k}\n{waited}"));
    }

    [Fact]
    public async Task Dump_OfAFrozenFile_PlansOnStderr_AndWithWaitWritesTheFile()
    {
        await SetUpAsync();
        string path = _files["docs/c.txt"];
        CliResult refused = await Strata("dump", "latest", path);
        CliAssert.FailsCleanly(2, refused, "--yes");
        Assert.Empty(refused.StdoutBytes);

        CliResult dumped = await Strata("dump", "latest", path, "--yes", "--wait");
        CliAssert.Ok(dumped);
        Assert.Equal(File.ReadAllBytes(path), dumped.StdoutBytes);
        Assert.Contains("SIMULATION", dumped.Stderr, StringComparison.Ordinal);
        Assert.Contains("packs ready", dumped.Stderr, StringComparison.Ordinal);
    }
}
