using System.Text.Json;
using Strata.Costs;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// Keeping a repository for years, as a user runs it: several generations, forget, the prune plan's numbers checked
/// against numbers this test computes itself, compact (thawing from the simulated cold tier), purge refused before the
/// minimum storage duration and done after it (the packs' upload times are moved back 181 days: the store's clock),
/// kill -9 at every step of compact and purge, repair index, and recover after the whole warm layer is deleted.
/// Every remaining snapshot is restored byte for byte after each of them.
/// </summary>
public sealed class MaintenanceTests : IDisposable
{
    private const int FileSize = 400_000; // random, so stored raw: a blob is FileSize + 28 bytes (AEAD nonce and tag)
    private const long BlobStored = FileSize + 28;
    private readonly Sandbox _box = new("maint");
    private readonly Dictionary<string, string?> _env;
    private readonly string _prices;
    /// <summary>Per snapshot id: the source files it holds (relative path -> content).</summary>
    private readonly Dictionary<string, Dictionary<string, byte[]>> _contents = [];
    private int _seed = 100;

    public MaintenanceTests()
    {
        _env = _box.Env();
        // Prices large enough that every amount shows in six decimals; the same file prices this test's own numbers.
        _prices = Path.Combine(_box.Root, "prices.json");
        File.WriteAllText(_prices, """
            { "providers": { "aws-s3": { "classes": {
                "DEEP_ARCHIVE": { "storage": [ { "usd_per_gb": 1000 } ] },
                "STANDARD": { "storage": [ { "usd_per_gb": 500 } ] } } } } }
            """);
        _env["STRATA_PRICES"] = _prices;
        _env["XDG_CONFIG_HOME"] = Path.Combine(_box.Root, "config");
    }

    public void Dispose() => _box.Dispose();

    private Task<CliResult> Strata(params string[] args) => _box.StrataWith(_env, args);

    private Task<CliResult> StrataIn(string repo, Dictionary<string, string?> env, params string[] args) => Cli.RunAsync(["--repo", repo, .. args], env);

    private void WriteFile(string name) => _box.Write(name, Sandbox.RandomBytes(FileSize, _seed++));

    /// <summary>Backs up the source and remembers what the snapshot holds.</summary>
    private async Task<string> BackupAsync(string? repo = null)
    {
        CliResult r = await StrataIn(repo ?? _box.Repo, _env, "--json", "backup", _box.Source);
        CliAssert.Ok(r);
        string id = r.Summary.GetProperty("snapshot_id").GetString()!;
        _contents[id] = Directory.EnumerateFiles(_box.Source, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(_box.Source, f), File.ReadAllBytes);
        return id;
    }

    private async Task<List<string>> SnapshotIdsAsync(string? repo = null)
    {
        CliResult r = await StrataIn(repo ?? _box.Repo, _env, "--json", "snapshots");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToList();
    }

    /// <summary>Restores every snapshot of the repository and compares it with what was backed up.</summary>
    private async Task AssertEverySnapshotRestoresAsync(string? repo = null, bool cold = false, Dictionary<string, Dictionary<string, byte[]>>? byTree = null)
    {
        List<string> ids = await SnapshotIdsAsync(repo);
        Assert.NotEmpty(ids);
        foreach (string id in ids)
        {
            string target = Path.Combine(_box.Root, "restore-" + Guid.NewGuid().ToString("N")[..8]);
            string[] extra = cold ? ["--yes", "--wait"] : [];
            CliAssert.Ok(await StrataIn(repo ?? _box.Repo, _env, ["restore", id, "--target", target, .. extra]));
            Dictionary<string, byte[]> expected = byTree is not null ? byTree[id] : _contents[id];
            string root = Sandbox.Restored(target, _box.Source);
            var restored = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order().ToList();
            Assert.Equal(expected.Keys.Order().ToList(), restored);
            foreach (var (rel, bytes) in expected)
            {
                Assert.True(File.ReadAllBytes(Path.Combine(root, rel)).AsSpan().SequenceEqual(bytes), $"{rel} of snapshot {id[..8]} differs after restore");
            }
            Directory.Delete(target, recursive: true);
        }
    }

    private async Task AssertCheckCleanAsync(string? repo = null)
    {
        CliResult r = await StrataIn(repo ?? _box.Repo, _env, "check");
        CliAssert.Ok(r);
        Assert.Contains("no errors", r.Stdout, StringComparison.Ordinal);
    }

    private static List<string> Files(string repo, string kind) =>
        Directory.Exists(Path.Combine(repo, kind)) ? Directory.EnumerateFiles(Path.Combine(repo, kind), "*", SearchOption.AllDirectories).ToList() : [];

    /// <summary>Four generations: {a,b,c}, {b,c,d}, {b',c,d}, {b',c,d,e}; the first two are forgotten.</summary>
    private async Task<(string Gen1, string Gen2)> GenerationsAsync()
    {
        WriteFile("a");
        WriteFile("b");
        WriteFile("c");
        string gen1 = await BackupAsync();
        File.Delete(Path.Combine(_box.Source, "a"));
        WriteFile("d");
        string gen2 = await BackupAsync();
        WriteFile("b");
        await BackupAsync();
        WriteFile("e");
        await BackupAsync();
        CliResult forget = await Strata("forget", gen1[..12], gen2[..12]);
        CliAssert.Ok(forget);
        _contents.Remove(gen1);
        _contents.Remove(gen2);
        return (gen1, gen2);
    }

    [Fact]
    public async Task StagedGc_ThePlanIsRight_CompactThawsAndRewrites_PurgeWaitsForTheMinimumDuration_EverySnapshotRestores()
    {
        await _box.InitAsync("--simulate-cold", "1s", "--simulate-day", "1h", "--pack-size", "1MiB");
        await GenerationsAsync();

        // The prompt in `strata snapshots`: forget worked out the dead share.
        CliResult list = await Strata("snapshots");
        CliAssert.Ok(list);
        Assert.Contains("strata prune", list.Stdout, StringComparison.Ordinal);

        CliResult pruneRun = await Strata("--json", "prune");
        CliAssert.Ok(pruneRun);
        JsonElement plan = Assert.Single(pruneRun.JsonMessages("prune_plan"));
        var packs = plan.GetProperty("packs").EnumerateArray().ToList();

        // Total: every pack file in the store.
        long onDisk = Files(_box.Repo, "data").Concat(Files(_box.Repo, "tree")).Sum(f => new FileInfo(f).Length);
        Assert.Equal(onDisk, plan.GetProperty("total_bytes").GetInt64());

        // Generation 1's data pack held a, b, c: a and the old b are dead, c lives. Nothing else is partly dead in the cold tier.
        JsonElement partly = Assert.Single(packs, p => p.GetProperty("status").GetString() == "partly dead" && p.GetProperty("tier").GetString() == "cold");
        Assert.Equal(2 * BlobStored, partly.GetProperty("dead_bytes").GetInt64());
        Assert.Equal(3, partly.GetProperty("blobs").GetInt32());
        Assert.Equal(1, partly.GetProperty("live_blobs").GetInt32());
        // The band records of the two forgotten snapshots are wholly dead, to their last byte.
        var deadBands = packs.Where(p => p.GetProperty("kind").GetString() == "band").ToList();
        Assert.Equal(2, deadBands.Count);
        Assert.All(deadBands, b => Assert.Equal("dead", b.GetProperty("status").GetString()));
        Assert.All(deadBands, b => Assert.Equal(b.GetProperty("bytes").GetInt64(), b.GetProperty("dead_bytes").GetInt64()));
        long coldDead = deadBands.Sum(b => b.GetProperty("bytes").GetInt64()) + 2 * BlobStored;
        Assert.Equal(coldDead, plan.GetProperty("cold_dead_bytes").GetInt64());

        // Money: this test's own sums through the cost model with the same price table.
        PriceTable prices = PriceTable.Load(_prices);
        decimal expectedCold = CostModel.EstimatePrune(prices, "aws-s3", "DEEP_ARCHIVE", 2 * BlobStored, 0).DeadUsdPerMonth
            + deadBands.Sum(b => CostModel.EstimatePrune(prices, "aws-s3", "DEEP_ARCHIVE", b.GetProperty("bytes").GetInt64(), 1).DeadUsdPerMonth);
        decimal expectedWarm = packs.Where(p => p.GetProperty("tier").GetString() == "warm")
            .Sum(p => CostModel.EstimatePrune(prices, "aws-s3", "STANDARD", p.GetProperty("dead_bytes").GetInt64(), p.GetProperty("status").GetString() == "dead" ? 1 : 0).DeadUsdPerMonth);
        Assert.InRange(Math.Abs((double)(expectedCold + expectedWarm) - plan.GetProperty("dead_usd_per_month").GetDouble()), 0, 0.00001);
        foreach (JsonElement band in deadBands)
        {
            double fee = (double)CostModel.EarlyDeletionUsd(prices, "aws-s3", "DEEP_ARCHIVE", band.GetProperty("bytes").GetInt64(), band.GetProperty("age_days").GetDouble());
            Assert.True(fee > 0);
            Assert.InRange(Math.Abs(fee - band.GetProperty("early_deletion_usd_now").GetDouble()), 0, 0.001);
        }

        // Compact: priced, refused without consent, then thaws (simulated) and rewrites; deletes nothing.
        int dataBefore = Files(_box.Repo, "data").Count;
        CliResult refused = await Strata("compact", "--all");
        CliAssert.FailsCleanly(2, refused, "--yes", "nothing was requested");
        Assert.Equal(dataBefore, Files(_box.Repo, "data").Count);
        CliResult compact = await Strata("compact", "--all", "--yes", "--wait");
        CliAssert.Ok(compact);
        Assert.Contains("compacted", compact.Stdout, StringComparison.Ordinal);
        Assert.Equal(dataBefore + 1, Files(_box.Repo, "data").Count);
        Assert.Single(Files(_box.Repo, "deletions"));
        await AssertCheckCleanAsync();
        await AssertEverySnapshotRestoresAsync(cold: true);

        // Purge now: only the warm tree packs (no minimum duration) go; the cold ones wait 180 days.
        CliResult early = await Strata("purge");
        CliAssert.Ok(early);
        Assert.Contains("younger than the minimum storage duration", early.Stdout, StringComparison.Ordinal);
        Assert.Equal(dataBefore + 1, Files(_box.Repo, "data").Count);
        await AssertCheckCleanAsync();

        // The store's clock: every pack was uploaded 181 days ago. Now purge deletes the superseded pack and the dead bands.
        foreach (string f in Files(_box.Repo, "data"))
        {
            File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddDays(-181));
        }
        CliResult purge = await Strata("--json", "purge");
        CliAssert.Ok(purge);
        JsonElement summary = Assert.Single(purge.JsonMessages("purge_summary"));
        Assert.Equal(3, summary.GetProperty("deleted").GetArrayLength());
        Assert.Equal(0.0, summary.GetProperty("early_deletion_usd").GetDouble());
        Assert.Equal(dataBefore + 1 - 3, Files(_box.Repo, "data").Count);
        Assert.Empty(Files(_box.Repo, "deletions"));
        Assert.Single(Files(_box.Repo, "index"));
        await AssertCheckCleanAsync();

        CliResult after = await Strata("--json", "prune");
        Assert.Equal(0, Assert.Single(after.JsonMessages("prune_plan")).GetProperty("dead_bytes").GetInt64());
        await AssertEverySnapshotRestoresAsync(cold: true);
    }

    [Fact]
    public async Task Purge_AcceptingTheEarlyDeletionFee_ShowsTheFee_AndDeletesAtOnce()
    {
        await _box.InitAsync("--simulate-cold", "1s", "--pack-size", "1MiB");
        await GenerationsAsync();
        CliResult r = await Strata("purge", "--accept-early-deletion-fee");
        CliAssert.Ok(r);
        Assert.Contains("early-deletion fee accepted", r.Stdout, StringComparison.Ordinal);
        CliResult plan = await Strata("--json", "prune");
        JsonElement p = Assert.Single(plan.JsonMessages("prune_plan"));
        Assert.Equal(0, p.GetProperty("wholly_dead_packs").GetInt32());
        Assert.Equal(1, p.GetProperty("partly_dead_packs").GetInt32());
        await AssertCheckCleanAsync();
        await AssertEverySnapshotRestoresAsync(cold: true);
    }

    /// <summary>Copies the repository and runs <paramref name="args"/> on the copy with a kill after the n-th write or delete.</summary>
    private async Task<(string Repo, bool Killed)> RunKilledAsync(string template, string variable, int n, params string[] args)
    {
        string copy = Path.Combine(_box.Root, $"repo-{variable[^6..]}-{n}");
        Sandbox.Run("cp", "-a", template, copy);
        var env = new Dictionary<string, string?>(_env) { [variable] = n.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        CliResult r = await StrataIn(copy, env, args);
        bool killed = r.Stderr.Contains("test crash after", StringComparison.Ordinal);
        Assert.True(killed || r.ExitCode == 0, $"the run neither finished nor was killed\n{r}");
        if (killed)
        {
            Assert.NotEqual(0, r.ExitCode);
        }
        return (copy, killed);
    }

    [Fact]
    public async Task CompactAndPurge_KilledAtEveryWriteAndDelete_LeaveEverySnapshotRestorable_AndARerunFinishes()
    {
        await _box.InitAsync("--pack-size", "1MiB");
        await GenerationsAsync();

        // compact writes: new pack, its catalog, the index segment, the deletion record.
        int killedCompacts = 0;
        for (int n = 1; ; n++)
        {
            var (copy, killed) = await RunKilledAsync(_box.Repo, "STRATA_TEST_KILL_AFTER_WRITES", n, "compact", "--all");
            if (!killed)
            {
                Directory.Delete(copy, recursive: true);
                break;
            }
            killedCompacts++;
            await AssertCheckCleanAsync(copy);
            await AssertEverySnapshotRestoresAsync(copy);
            CliAssert.Ok(await StrataIn(copy, _env, "compact", "--all"));
            CliAssert.Ok(await StrataIn(copy, _env, "purge", "--accept-early-deletion-fee"));
            await AssertCheckCleanAsync(copy);
            await AssertEverySnapshotRestoresAsync(copy);
            Directory.Delete(copy, recursive: true);
        }
        Assert.True(killedCompacts >= 4, $"compact was killed at only {killedCompacts} points");

        CliAssert.Ok(await Strata("compact", "--all"));
        int deletes = 0;
        for (int n = 1; ; n++)
        {
            var (copy, killed) = await RunKilledAsync(_box.Repo, "STRATA_TEST_KILL_AFTER_DELETES", n, "purge", "--accept-early-deletion-fee");
            if (!killed)
            {
                Directory.Delete(copy, recursive: true);
                break;
            }
            deletes++;
            await AssertCheckCleanAsync(copy);
            await AssertEverySnapshotRestoresAsync(copy);
            CliAssert.Ok(await StrataIn(copy, _env, "purge", "--accept-early-deletion-fee"));
            await AssertCheckCleanAsync(copy);
            Assert.Empty(Files(copy, "deletions"));
            await AssertEverySnapshotRestoresAsync(copy);
            Directory.Delete(copy, recursive: true);
        }
        Assert.True(deletes >= 6, $"purge was killed at only {deletes} points");
        // Writes of purge: its lock, the purge record, the new index segment.
        for (int n = 1; n <= 3; n++)
        {
            var (copy, killed) = await RunKilledAsync(_box.Repo, "STRATA_TEST_KILL_AFTER_WRITES", n, "purge", "--accept-early-deletion-fee");
            Assert.True(killed, $"purge was not killed after write {n}");
            await AssertCheckCleanAsync(copy);
            await AssertEverySnapshotRestoresAsync(copy);
            CliAssert.Ok(await StrataIn(copy, _env, "purge", "--accept-early-deletion-fee"));
            await AssertCheckCleanAsync(copy);
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public async Task Recover_AfterEveryWarmObjectIsDeleted_RebuildsSnapshots_AndRestoresByteForByte()
    {
        await _box.InitAsync("--simulate-cold", "1s", "--pack-size", "1MiB");
        WriteFile("a");
        WriteFile("sub/b");
        await BackupAsync();
        WriteFile("c");
        WriteFile("sub/b");
        await BackupAsync();
        // Recovered snapshots get new ids (new body keys): match them by time.
        CliResult before = await Strata("--json", "snapshots");
        using var beforeDoc = JsonDocument.Parse(before.Stdout);
        var byTime = beforeDoc.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("time").GetString()!, e => _contents[e.GetProperty("id").GetString()!]);

        foreach (string kind in new[] { "snapshots", "index", "catalogs", "tree", "thaws" })
        {
            foreach (string f in Files(_box.Repo, kind))
            {
                File.Delete(f);
            }
        }
        CliResult empty = await Strata("snapshots");
        CliAssert.Ok(empty);
        Assert.Contains("0 snapshots", empty.Stdout, StringComparison.Ordinal);

        CliResult dry = await Strata("recover", "--dry-run");
        CliAssert.Ok(dry);
        Assert.Contains("need a thaw", dry.Stdout, StringComparison.Ordinal);
        CliResult refused = await Strata("recover");
        CliAssert.FailsCleanly(2, refused, "--yes");
        CliResult recover = await Strata("recover", "--yes", "--wait");
        CliAssert.Ok(recover);
        Assert.Contains("recovered 2 snapshots", recover.Stdout, StringComparison.Ordinal);

        CliResult after = await Strata("--json", "snapshots");
        using var afterDoc = JsonDocument.Parse(after.Stdout);
        var recovered = afterDoc.RootElement.EnumerateArray().ToDictionary(e => e.GetProperty("id").GetString()!, e => byTime[e.GetProperty("time").GetString()!]);
        Assert.Equal(2, recovered.Count);
        await AssertCheckCleanAsync();
        await AssertEverySnapshotRestoresAsync(cold: true, byTree: recovered);
        // A second run finds everything in place and adds nothing.
        CliResult again = await Strata("recover", "--yes", "--wait");
        CliAssert.Ok(again);
        Assert.Contains("recovered 0 snapshots", again.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RepairIndex_RebuildsFromCatalogs_AndFromThawedPackTailsWhereACatalogIsMissing()
    {
        await _box.InitAsync("--simulate-cold", "1s", "--pack-size", "1MiB");
        WriteFile("a");
        WriteFile("b");
        WriteFile("c");
        await BackupAsync();
        foreach (string f in Files(_box.Repo, "index"))
        {
            File.Delete(f);
        }
        // Without segments the catalogs still describe every pack (the index is a cache of them): check stays clean.
        await AssertCheckCleanAsync();

        CliResult repair = await Strata("repair", "index");
        CliAssert.Ok(repair);
        Assert.Single(Files(_box.Repo, "index"));
        await AssertCheckCleanAsync();

        // A data pack's catalog is gone: its tail must be read from the cold pack, which needs a priced thaw.
        string dataPack = Files(_box.Repo, "data").OrderByDescending(f => new FileInfo(f).Length).First();
        File.Delete(Path.Combine(_box.Repo, "catalogs", Path.GetFileName(dataPack)));
        CliResult refused = await Strata("repair", "index");
        CliAssert.FailsCleanly(2, refused, "--yes");
        CliResult thawed = await Strata("repair", "index", "--yes", "--wait");
        CliAssert.Ok(thawed);
        Assert.Contains("1 catalog rewritten", thawed.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_box.Repo, "catalogs", Path.GetFileName(dataPack))));
        await AssertCheckCleanAsync();
        await AssertEverySnapshotRestoresAsync(cold: true);
    }

    [Fact]
    public async Task Check_FindsOrphansAndCatalogMismatches_NamesWhatToRun_AndReadsASubset()
    {
        await _box.InitAsync("--pack-size", "1MiB");
        WriteFile("a");
        WriteFile("b");
        WriteFile("c");
        await BackupAsync();
        WriteFile("d");
        await BackupAsync();

        CliResult subset = await Strata("check", "--read-data-subset", "1/1");
        CliAssert.Ok(subset);
        Assert.Contains("read ", subset.Stdout, StringComparison.Ordinal);
        CliAssert.FailsCleanly(2, await Strata("check", "--read-data-subset", "0/3"), "--read-data-subset");
        CliAssert.FailsCleanly(2, await Strata("check", "--read-data-subset", "150%"), "--read-data-subset");

        // An orphan: a pack file nothing indexes and no catalog describes.
        string orphanId = new string('a', 64);
        Directory.CreateDirectory(Path.Combine(_box.Repo, "data", "aa"));
        File.WriteAllBytes(Path.Combine(_box.Repo, "data", "aa", orphanId), Sandbox.RandomBytes(1000, 9));
        CliResult orphan = await Strata("check");
        CliAssert.Ok(orphan); // not damage: a note
        Assert.Contains("note:", orphan.Stdout, StringComparison.Ordinal);
        Assert.Contains($"data/{orphanId}", orphan.Stdout, StringComparison.Ordinal);
        Assert.Contains("strata purge", orphan.Stdout, StringComparison.Ordinal);
        File.Delete(Path.Combine(_box.Repo, "data", "aa", orphanId));

        // A catalog that is another pack's: the index and the catalog disagree.
        var catalogs = Files(_box.Repo, "catalogs").OrderBy(f => f, StringComparer.Ordinal).ToList();
        File.Delete(catalogs[1]);
        File.Copy(catalogs[0], catalogs[1]);
        CliResult mismatch = await Strata("check");
        CliAssert.Exit(4, mismatch);
        Assert.Contains($"catalogs/{Path.GetFileName(catalogs[1])}", mismatch.Stdout, StringComparison.Ordinal);
        Assert.Contains("strata repair index", mismatch.Stdout, StringComparison.Ordinal);
    }
}
