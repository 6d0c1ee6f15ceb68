using Strata.Costs;
using Strata.Crypto;
using Strata.Repository;
using Strata.Restorer;
using Strata.Stores;
using Strata.Tests.Restorer;
using Strata.Thaws;

namespace Strata.Tests.Thaws;

/// <summary>
/// The whole thaw-and-restore cycle on the simulated cold tier, on a fake clock (the AWS cold tier cannot run here; the
/// simulation is the local store's, with Deep Archive's 48 h bulk / 12 h standard): the plan and its price, a read
/// without a thaw, a partial thaw that already restores what is ready, a resume after a restart, an expiry, and the
/// wait loop that restores each file as soon as its packs are ready.
/// </summary>
public sealed class ColdRestoreTests : IAsyncLifetime
{
    private static readonly TimeSpan Bulk = TimeSpan.FromHours(48);
    private static readonly TimeSpan Standard = TimeSpan.FromHours(12);
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private TestRepository _t = null!;
    private SnapshotRef _snap = null!;
    private string _target = null!;
    private readonly List<string> _files = [];

    /// <summary>A day of thawed-copy life lasts an hour here, so expiry tests need not move the clock by weeks.</summary>
    private static readonly ColdSimulation Simulation = new(DelaySeconds: Bulk.TotalSeconds, DaySeconds: 3600);

    public async Task InitializeAsync()
    {
        _t = await TestRepository.CreateAsync(Simulation);
        int seed = 1;
        foreach (string folder in new[] { "a", "b", "c" })
        {
            for (int i = 0; i < 4; i++)
            {
                _files.Add(_t.Write($"{folder}/f{i}.bin", TestRepository.RandomBytes(200_000 + (seed * 37_000), seed)));
                seed++;
            }
        }
        _snap = await _t.BackupAsync();
        await _t.ReopenAsync();
        _target = Path.Combine(_t.Root, "restore");
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private ColdRestoreRequest Request(params string[] includes) => new() { SnapshotId = _snap.Id, Target = _target, Includes = includes };

    private Task<ColdRestore> PrepareAsync(ColdRestoreRequest request, ThawJob? job = null) => ColdRestore.PrepareAsync(_t.Repo, _snap.Snapshot, request, job, _t.Ct);

    /// <summary>Requests thaws; by default the copies last 100 simulated days (100 h here), longer than any test waits.</summary>
    private Task<ThawJob?> SubmitAsync(ColdRestore cold, ThawTier tier, int days = 100) =>
        cold.SubmitAsync(tier, days, 0.01m, null, new ThawSubmitOptions(RequestsPerSecond: 0), _t.Ct);

    private Task<RestoreResult> PassAsync(ColdRestore cold) => cold.RestoreReadyAsync(new RestoreOptions { Target = _target }, null, _t.Ct);

    private string Restored(string file) => _t.Restored(_target, file);

    private bool IsRestored(string file) => File.Exists(Restored(file)) && File.ReadAllBytes(Restored(file)).AsSpan().SequenceEqual(File.ReadAllBytes(file));

    private async Task<int> ThawObjectsAsync()
    {
        int n = 0;
        await foreach (ObjectInfo _ in _t.Repo.Store.ListAsync(ObjectKind.Thaws, _t.Ct))
        {
            n++;
        }
        return n;
    }

    [Fact]
    public async Task Plan_NamesEveryDataPackWithItsSize_AndIsPricedAsThePriceTableSays()
    {
        ColdRestore cold = await PrepareAsync(Request());
        var catalogs = await _t.BlobPacksFromCatalogsAsync();
        var dataPacks = catalogs.Values.ToHashSet();
        Assert.True(dataPacks.Count >= 3, $"expected several packs, got {dataPacks.Count}");
        Assert.Equal(dataPacks, cold.Needed.Select(p => p.Id).ToHashSet());
        long bytes = 0;
        foreach (BlobId id in dataPacks)
        {
            bytes += (await _t.Repo.Store.StatAsync(new ObjectName(ObjectKind.Data, id.ToString()), _t.Ct))!.Length;
        }
        Assert.Equal(bytes, cold.Needed.Sum(p => p.Bytes));
        Assert.Equal(_files.Count, cold.Plan.Files.Count);
        Assert.Equal(_files.Sum(f => new FileInfo(f).Length), cold.Plan.FileBytes);
        Assert.Equal(dataPacks.Count, cold.Count(PackState.Frozen));
        Assert.Equal(dataPacks.Count, cold.ToRequest.Count);
        Assert.Equal(0, cold.CompleteFiles);

        StoreProperties props = _t.Repo.Store.Properties;
        ColdReadRequest request = RestorePlan.ColdRead(props, cold.ToRequest, 7, inRegion: false);
        Assert.Equal(new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, dataPacks.Count, 7, false), request);

        // The same numbers by hand from the shipped price table: retrieval + requests (tier + GET) + egress + thawed copy.
        PriceTable prices = PriceTable.LoadDefault();
        StorageClassPrices deep = prices.Class("aws-s3", "DEEP_ARCHIVE");
        ProviderPrices aws = prices.Provider("aws-s3");
        decimal gb = (decimal)bytes / (1L << 30);
        IReadOnlyList<TierEstimate> estimates = CostModel.EstimateColdRead(prices, request);
        Assert.Equal(deep.ThawTiers.Select(t => t.Tier).Order(), estimates.Select(e => e.Tier).Order());
        Assert.DoesNotContain(estimates, e => e.Tier == ThawTier.Expedited); // Deep Archive has no expedited retrieval
        foreach (TierEstimate e in estimates)
        {
            RetrievalTier tier = deep.ThawTiers.Single(t => t.Tier == e.Tier);
            Assert.Equal(tier.UsdPerGb * gb, e.RetrievalUsd);
            Assert.Equal(dataPacks.Count * (tier.UsdPer1000 + deep.GetPer1000) / 1000m, e.RequestsUsd);
            Assert.Equal(0m, e.EgressUsd); // the first 100 GB a month leave AWS free
            Assert.Equal(gb * aws.Class("STANDARD").Storage[0].UsdPerGb * 7 / 30m, e.ThawedStorageUsd);
            Assert.Equal(tier.Slowest, e.Slowest);
            Assert.True(e.TotalUsd > 0);
        }
        // Bulk is the cheapest, so it is the default tier.
        Assert.Equal(ThawTier.Bulk, estimates.OrderBy(e => e.TotalUsd).First().Tier);
    }

    [Fact]
    public async Task ReadingAColdPackWithoutAThaw_FailsAtOnce_NamingTheObjectAndItsClass()
    {
        RestorePlan plan = await RestorePlanner.PlanAsync(_t.Repo, _snap.Snapshot, new([]), new([]), _t.Ct);
        PlannedFile file = plan.Files[0];
        PlannedPack pack = plan.Pack(file.Packs[0])!;
        var frozen = await Assert.ThrowsAsync<ObjectFrozenException>(() => _t.Repo.ReadBlobAsync(file.Node.Content[0], _t.Ct));
        Assert.Contains($"data/{pack.Id}", frozen.Message, StringComparison.Ordinal);
        Assert.Contains("local-cold", frozen.Message, StringComparison.Ordinal);
        Assert.Contains("not thawed", frozen.Message, StringComparison.Ordinal);

        // A plain restore (no plan) does not hang or crash: every file is reported with the same message.
        var result = await new Strata.Restorer.Restorer(_t.Repo, new RestoreOptions { Target = _target }).RunAsync(_snap.Snapshot, _t.Ct);
        Assert.Equal(0, result.Files);
        Assert.Equal(_files.Count, result.Failures.Count);
        Assert.All(result.Failures, f => Assert.Matches("data/[0-9a-f]{64} in .* is in cold storage \\(local-cold", f.Error));

        // While it thaws, the message says so and when it should be ready.
        await _t.Repo.Store.RequestThawAsync(pack.Name, new ThawRequest(ThawTier.Bulk, 1), _t.Ct);
        var thawing = await Assert.ThrowsAsync<ObjectFrozenException>(() => _t.Repo.ReadBlobAsync(file.Node.Content[0], _t.Ct));
        Assert.Contains("still thawing", thawing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PartialThaw_RestoresTheFilesWhosePacksAreReady_AndDefersTheRest()
    {
        // First only folder a is asked for, at Standard (12 h); then everything, at Bulk (48 h).
        ColdRestore onlyA = await PrepareAsync(Request("src/a"));
        Assert.Equal(4, onlyA.Plan.Files.Count);
        ThawJob jobA = (await SubmitAsync(onlyA, ThawTier.Standard))!;
        var packsOfA = onlyA.Needed.Select(p => p.Id).ToHashSet();

        ColdRestore all = await PrepareAsync(Request());
        Assert.Null(all.Job); // another selection: another job
        Assert.Equal(packsOfA.Count, all.Count(PackState.Thawing));
        Assert.Equal(all.Needed.Count - packsOfA.Count, all.ToRequest.Count); // what is thawing is not asked for again
        ThawJob jobAll = (await SubmitAsync(all, ThawTier.Bulk))!;
        Assert.NotEqual(jobA.Id, jobAll.Id);

        // Nothing is ready yet: a pass writes nothing and defers every file.
        RestoreResult early = await PassAsync(all);
        Assert.Equal(0, early.Files);
        Assert.Equal(_files.Count, early.Deferred);
        Assert.Empty(early.Failures);

        _t.Clock.Advance(Standard + Second);
        await all.RefreshAsync(_t.Ct);
        Assert.Equal(packsOfA.Count, all.Count(PackState.Ready));
        RestoreResult partial = await PassAsync(all);
        Assert.Empty(partial.Failures);
        var readyFiles = all.Plan.Files.Where(f => f.Packs.All(packsOfA.Contains)).Select(f => f.Path).ToHashSet();
        Assert.Superset(_files.Where(f => f.Contains("/src/a/", StringComparison.Ordinal)).ToHashSet(), readyFiles);
        Assert.Equal(readyFiles.Count, partial.Files);
        Assert.Equal(_files.Count - readyFiles.Count, partial.Deferred);
        Assert.Equal(readyFiles.Order(), _files.Where(IsRestored).Order());
        Assert.All(_files.Except(readyFiles), f => Assert.False(File.Exists(Restored(f)), $"{f} was written before its packs were thawed"));

        _t.Clock.Advance(Bulk - Standard);
        await all.RefreshAsync(_t.Ct);
        RestoreResult rest = await PassAsync(all);
        Assert.Empty(rest.Failures);
        Assert.Equal(0, rest.Deferred);
        Assert.Equal(_files.Count - readyFiles.Count, rest.Files);
        Assert.Equal(readyFiles.Count, rest.SkippedComplete);
        Assert.All(_files, f => Assert.True(IsRestored(f), f));
    }

    [Fact]
    public async Task ResumeAfterARestart_FindsTheJob_AsksForNothingTwice_AndSkipsFinishedFiles()
    {
        DateTimeOffset t0 = _t.Clock.GetUtcNow();
        ColdRestore first = await PrepareAsync(Request());
        ThawJob job = (await SubmitAsync(first, ThawTier.Bulk))!;
        Assert.Equal(ThawJobEvents.Submitted, job.Latest.Event);
        Assert.Equal(1, await ThawObjectsAsync());
        Assert.Equal(t0 + Bulk, first.Eta());

        // The process ends. An hour later another one starts, with nothing but the repository and the target.
        _t.Clock.Advance(TimeSpan.FromHours(1));
        CountingStore counting = null!;
        await _t.ReopenAsync(s => counting = new CountingStore(s));
        ColdRestore again = await PrepareAsync(Request());
        Assert.Equal(job.Id, again.Job?.Id);
        Assert.Equal(again.Needed.Count, again.Count(PackState.Thawing));
        Assert.Empty(again.ToRequest);
        Assert.Equal(t0 + Bulk, again.Eta());
        Assert.Equal(job.Id, (await SubmitAsync(again, ThawTier.Bulk))?.Id);
        Assert.Equal(0, counting.ThawRequests);
        Assert.Equal(1, await ThawObjectsAsync());

        ThawJobStatus status = await ThawJobStatus.GetAsync(_t.Repo.Store, (await ThawJobs.ListAsync(_t.Repo, _t.Ct)).Single(), _t.Ct);
        Assert.Equal("thawing", status.State);
        Assert.Equal(again.Needed.Count, status.Thawing);
        Assert.Equal(t0 + Bulk, status.Eta);

        // Ready: the resumed run restores everything.
        _t.Clock.Advance(Bulk);
        await again.RefreshAsync(_t.Ct);
        RestoreResult done = await PassAsync(again);
        Assert.Equal(_files.Count, done.Files);
        Assert.All(_files, f => Assert.True(IsRestored(f), f));

        // One file is lost from the target, and the process restarts again: only that file is restored.
        File.Delete(Restored(_files[5]));
        await _t.ReopenAsync();
        ColdRestore third = await PrepareAsync(Request(), await ThawJobs.FindAsync(_t.Repo, job.ShortId, _t.Ct));
        Assert.Equal(_files.Count - 1, third.CompleteFiles);
        Assert.Equal(_files[5], Assert.Single(third.Remaining).Path);
        Assert.All(third.Needed, p => Assert.Equal(PackState.Ready, third.StateOf(p)));
        RestoreResult one = await PassAsync(third);
        Assert.Equal(1, one.Files);
        Assert.Equal(_files.Count - 1, one.SkippedComplete);
        Assert.True(IsRestored(_files[5]));

        await third.CompleteAsync(_t.Ct);
        Assert.Equal(2, await ThawObjectsAsync()); // records are added, never replaced
        ThawJob completed = await ThawJobs.FindAsync(_t.Repo, job.ShortId, _t.Ct);
        Assert.True(completed.Completed);
        Assert.Equal(2, completed.Records);
        Assert.Equal(t0, completed.FirstRequestedAt);
        Assert.Null((await PrepareAsync(Request())).Job); // a later run of the same restore is a new job
    }

    [Fact]
    public async Task AnExpiredThaw_IsRequestedAgain_WithANote()
    {
        ColdRestore first = await PrepareAsync(Request());
        ThawJob job = (await SubmitAsync(first, ThawTier.Bulk, days: 2))!;
        int packs = first.Needed.Count;

        // Ready after 48 h, the copies last 2 simulated days (2 h here); the restore only runs after they lapsed.
        _t.Clock.Advance(Bulk + TimeSpan.FromHours(2) + Second);
        ThawJobStatus lapsed = await ThawJobStatus.GetAsync(_t.Repo.Store, (await ThawJobs.ListAsync(_t.Repo, _t.Ct)).Single(), _t.Ct);
        Assert.Equal("expired", lapsed.State);
        Assert.Equal(packs, lapsed.Expired);

        await _t.ReopenAsync();
        ColdRestore again = await PrepareAsync(Request());
        Assert.Equal(job.Id, again.Job?.Id);
        Assert.Equal(packs, again.Count(PackState.Expired));
        Assert.Equal(packs, again.ToRequest.Count);
        // Another restore of the same snapshot (no job of its own) also sees them as expired: the store says so.
        ColdRestore other = await PrepareAsync(Request() with { Target = Path.Combine(_t.Root, "elsewhere") });
        Assert.Equal(packs, other.Count(PackState.Expired));

        ThawJob renewed = (await SubmitAsync(again, ThawTier.Bulk, days: 2))!;
        Assert.Equal(job.Id, renewed.Id);
        Assert.Equal(ThawJobEvents.Rerequested, renewed.Latest.Event);
        Assert.Equal(2, renewed.Latest.Sequence);
        Assert.Contains("expired", renewed.Latest.Note, StringComparison.Ordinal);
        Assert.All(renewed.Latest.Packs, p => Assert.Equal(2, p.Requests));
        Assert.Equal(2, await ThawObjectsAsync());
        Assert.Equal(packs, again.Count(PackState.Thawing));

        _t.Clock.Advance(Bulk + Second);
        await again.RefreshAsync(_t.Ct);
        RestoreResult result = await PassAsync(again);
        Assert.Equal(_files.Count, result.Files);
        Assert.All(_files, f => Assert.True(IsRestored(f), f));
    }

    [Fact]
    public async Task Wait_PollsWithBackoff_AndRestoresEachFileAsSoonAsItsPacksAreReady()
    {
        ColdRestore onlyA = await PrepareAsync(Request("src/a"));
        await SubmitAsync(onlyA, ThawTier.Standard);
        var packsOfA = onlyA.Needed.Select(p => p.Id).ToHashSet();
        ColdRestore all = await PrepareAsync(Request());
        await SubmitAsync(all, ThawTier.Bulk);
        DateTimeOffset t0 = _t.Clock.GetUtcNow();

        var passes = new List<(TimeSpan At, int Ready, RestoreResult Result, string[] Restored)>();
        var progress = new List<ColdWaitProgress>();
        Task<ColdWaitOutcome> wait = all.WaitAsync(
            async (ready, ct) =>
            {
                RestoreResult r = await all.RestoreReadyAsync(new RestoreOptions { Target = _target }, null, ct);
                passes.Add((_t.Clock.GetUtcNow() - t0, ready.Count, r, [.. _files.Where(IsRestored)]));
            },
            ColdWaitOptions.Default,
            p => progress.Add(p),
            _t.Ct);
        for (int i = 0; i < 10_000 && !wait.IsCompleted; i++)
        {
            _t.Clock.Advance(TimeSpan.FromMinutes(5));
            await Task.Delay(2, _t.Ct);
        }
        Assert.Equal(ColdWaitOutcome.AllReady, await wait);

        Assert.Equal(0, passes[0].Result.Files); // at once, before anything is ready
        var aPass = passes.Single(p => p.Ready == packsOfA.Count);
        Assert.InRange(aPass.At, Standard, Bulk - TimeSpan.FromMinutes(1));
        Assert.Contains(_files.First(f => f.Contains("/src/a/", StringComparison.Ordinal)), aPass.Restored);
        Assert.True(aPass.Result.Deferred > 0);
        Assert.DoesNotContain(_files.Last(), aPass.Restored);
        var last = passes[^1];
        Assert.True(last.At >= Bulk);
        Assert.Equal(0, last.Result.Deferred);
        Assert.All(_files, f => Assert.True(IsRestored(f), f));
        Assert.Equal(all.Needed.Count, progress[^1].Ready);
        Assert.Equal(all.Needed.Count, progress[^1].Total);
        Assert.True(progress.Zip(progress.Skip(1)).All(p => p.Second.Ready >= p.First.Ready));
        // Backoff: polls start at a second and double up to 10 minutes, so 48 hours take about 300 polls, not 170,000.
        Assert.Equal([1, 2, 4, 8, 16], progress.Take(5).Select(p => (int)p.NextPoll.TotalSeconds));
        Assert.Equal(TimeSpan.FromMinutes(10), progress.Max(p => p.NextPoll));
        Assert.InRange(progress.Count, (48 * 6) - 20, (48 * 6) + 30);
        Assert.Contains(progress, p => p.Eta == t0 + Bulk);
    }

    [Fact]
    public async Task Submitter_SendsInBatches_AtTheGivenRate_AndReportsMissingObjects()
    {
        CountingStore counting = null!;
        await _t.ReopenAsync(s => counting = new CountingStore(s));
        var names = Enumerable.Range(0, 250).Select(i => new ObjectName(ObjectKind.Data, i.ToString("x64"))).ToList();
        Task<IReadOnlyList<ObjectName>> submit = ThawSubmitter.SubmitAsync(counting, names, new ThawRequest(ThawTier.Bulk, 1), new ThawSubmitOptions(BatchSize: 100, Concurrency: 3, RequestsPerSecond: 50), _t.Clock, null, _t.Ct);
        await WaitForAsync(() => counting.ThawRequests == 100);
        await Task.Delay(50, _t.Ct);
        Assert.Equal(100, counting.ThawRequests); // 100 at 50/s: the next batch waits 2 s
        Assert.False(submit.IsCompleted);
        _t.Clock.Advance(TimeSpan.FromSeconds(2));
        await WaitForAsync(() => counting.ThawRequests == 200);
        Assert.False(submit.IsCompleted);
        _t.Clock.Advance(TimeSpan.FromSeconds(2));
        IReadOnlyList<ObjectName> missing = await submit;
        Assert.Equal(250, counting.ThawRequests);
        Assert.Equal(names.ToHashSet(), missing.ToHashSet());
        Assert.InRange(counting.MaxInFlight, 1, 3);
    }

    private async Task WaitForAsync(Func<bool> condition)
    {
        for (int i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(5, _t.Ct);
        }
        Assert.True(condition());
    }
}
