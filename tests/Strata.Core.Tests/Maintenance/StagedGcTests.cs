using Strata.Costs;
using Strata.Crypto;
using Strata.Index;
using Strata.Maintenance;
using Strata.Packs;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Tests.Maintenance;

/// <summary>
/// The staged GC on a real local repository and a fake clock: the plan's live/dead split, compaction's deletion record
/// and how the index treats superseded and purging packs, and purge refused before the minimum storage duration (by
/// the clock) and done after it, with every remaining file still readable.
/// </summary>
public sealed class StagedGcTests
{
    private static Pricing Prices() => new(PriceTable.LoadDefault(), "aws-s3", "DEEP_ARCHIVE", "STANDARD");

    private static async Task<(TestRepository T, SnapshotRef Kept)> TwoGenerationsForgetFirstAsync()
    {
        var t = await TestRepository.CreateAsync(simulation: null);
        t.Write("a", TestRepository.RandomBytes(300_000, 1));
        t.Write("b", TestRepository.RandomBytes(300_000, 2));
        SnapshotRef first = await t.BackupAsync();
        File.Delete(Path.Combine(t.Source, "a"));
        t.Write("c", TestRepository.RandomBytes(300_000, 3));
        SnapshotRef kept = await t.BackupAsync();
        await t.Repo.Store.DeleteAsync(new ObjectName(ObjectKind.Snapshots, first.Id), t.Ct);
        return (t, kept);
    }

    private static async Task<Repo> ReopenWithCatalogsAsync(TestRepository t)
    {
        Repo repo = await t.ReopenAsync();
        repo.PackCatalogs.Clear();
        await repo.LoadIndexAsync(t.Ct, keepCatalogs: true);
        return repo;
    }

    private static async Task AssertEveryFileReadsAsync(Repo repo, SnapshotRef s, CancellationToken ct)
    {
        int files = 0;
        await TreeOps.WalkAsync(repo, BlobId.Parse(s.Snapshot.Tree), "", async (_, node) =>
        {
            foreach (BlobId b in node.Content)
            {
                Assert.NotEmpty(await repo.ReadBlobAsync(b, ct));
            }
            files += node.Content.Count > 0 ? 1 : 0;
            return true;
        }, ct);
        Assert.True(files >= 2);
    }

    [Fact]
    public async Task Plan_SplitsLiveAndDead_ThePartlyDeadPackIsTheFirstGenerations()
    {
        var (t, kept) = await TwoGenerationsForgetFirstAsync();
        await using var _ = t;
        Repo repo = await ReopenWithCatalogsAsync(t);
        PrunePlan plan = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);

        // Every blob the kept snapshot names is live somewhere; "a" is dead.
        PackPlan partly = Assert.Single(plan.PartlyDead, p => p.Tier == Tier.Cold);
        Assert.True(partly.DeadBytes > 300_000 && partly.DeadBytes < 400_000, $"dead {partly.DeadBytes}");
        // The first generation's band record is dead, the second's is live.
        Assert.Single(plan.Packs, p => p.Kind == PackKind.Band && p.Status == PackStatus.WhollyDead);
        Assert.Single(plan.Packs, p => p.Kind == PackKind.Band && p.Status == PackStatus.Live && p.Id.ToString() == kept.Snapshot.BandPack);
        // Dead bytes: a wholly dead pack's whole length, a partly dead one's dead blobs.
        Assert.Equal(plan.Packs.Sum(p => p.DeadBytes), plan.DeadBytes);
        Assert.All(plan.Deletable, p => Assert.Equal(p.Length, p.DeadBytes));
        // Written "now" on a class with a 180-day minimum: deleting costs a fee, free in 180 days.
        Assert.All(plan.Deletable.Where(p => p.Tier == Tier.Cold), p => Assert.True(p.EarlyDeletionUsdNow > 0));
    }

    [Fact]
    public async Task CompactThenPurge_OnAFakeClock_IndexMovesToTheNewPack_AndPurgeWaitsForTheMinimumDuration()
    {
        var (t, kept) = await TwoGenerationsForgetFirstAsync();
        await using var _ = t;
        Repo repo = await ReopenWithCatalogsAsync(t);
        PrunePlan plan = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);
        PackPlan old = Assert.Single(plan.PartlyDead, p => p.Tier == Tier.Cold);

        CompactResult compacted = await Compactor.RunAsync(repo, plan, [old], null, t.Ct);
        Assert.Single(compacted.Rewritten);
        Assert.NotNull(compacted.DeletionRecord);
        IndexSegment.PackEntries replacement = Assert.Single(compacted.NewPacks);

        // Reopened: the superseded pack is still known, but its live blobs are read from the replacement.
        repo = await ReopenWithCatalogsAsync(t);
        Assert.True(repo.Index.HasPack(old.Id));
        foreach (CatalogEntry e in replacement.Entries)
        {
            Assert.True(repo.Index.TryGet(e.Id, out IndexEntry ie));
            Assert.Equal(replacement.Id, repo.Index.PackOf(ie).Id);
        }
        await AssertEveryFileReadsAsync(repo, kept, t.Ct);

        // Purge now: the cold packs are younger than 180 days by the store's times and the clock, so they wait.
        t.Clock.SetUtcNow(DateTimeOffset.UtcNow);
        plan = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);
        PurgeResult early = await Purger.RunAsync(repo, plan, acceptEarlyDeletionFee: false, null, t.Ct);
        Assert.DoesNotContain(early.Deleted, p => p.Tier == Tier.Cold);
        Assert.Contains(early.Waiting, p => p.Id == old.Id);
        Assert.NotNull(await repo.Store.StatAsync(old.Name, t.Ct));

        // 181 days later they are free to delete.
        repo = await ReopenWithCatalogsAsync(t);
        t.Clock.SetUtcNow(DateTimeOffset.UtcNow.AddDays(181));
        plan = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);
        Assert.All(plan.Deletable, p => Assert.Equal(0m, p.EarlyDeletionUsdNow));
        PurgeResult late = await Purger.RunAsync(repo, plan, acceptEarlyDeletionFee: false, null, t.Ct);
        Assert.Contains(late.Deleted, p => p.Id == old.Id);
        Assert.Empty(late.Waiting);
        Assert.Null(await repo.Store.StatAsync(old.Name, t.Ct));
        Assert.Null(await repo.Store.StatAsync(new ObjectName(ObjectKind.Catalogs, old.Id.ToString()), t.Ct));

        repo = await ReopenWithCatalogsAsync(t);
        Assert.Empty(repo.Deletions);
        Assert.Single(repo.IndexSegments);
        Assert.False(repo.Index.HasPack(old.Id));
        await AssertEveryFileReadsAsync(repo, kept, t.Ct);
        PrunePlan after = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);
        Assert.Equal(0, after.DeadBytes);
    }

    [Fact]
    public async Task APurgeRecord_TakesItsPacksOutOfTheIndex_AndPurgeRefusesWhenAUsedBlobIsMissing()
    {
        var (t, kept) = await TwoGenerationsForgetFirstAsync();
        await using var _ = t;
        Repo repo = await ReopenWithCatalogsAsync(t);
        BlobId dataPack = repo.Index.Packs.First(p => p.Kind == PackKind.Data && p.Id.ToString() != kept.Snapshot.BandPack).Id;
        // A forged (or half-done) purge record naming a pack that holds live data.
        await DeletionRecords.WriteAsync(repo, new DeletionRecord { Time = t.Clock.GetUtcNow(), Reason = DeletionReason.Purge, Packs = [dataPack.ToString()] }, t.Ct);

        repo = await ReopenWithCatalogsAsync(t);
        Assert.False(repo.Index.HasPack(dataPack));
        PrunePlan plan = await PrunePlanner.PlanAsync(repo, Prices(), new PruneSettings(), t.Ct);
        Assert.NotEmpty(plan.Live.Missing);
        await Assert.ThrowsAsync<CorruptionException>(() => Purger.RunAsync(repo, plan, acceptEarlyDeletionFee: true, null, t.Ct));
        Assert.NotNull(await repo.Store.StatAsync(new ObjectName(ObjectKind.Data, dataPack.ToString()), t.Ct));
    }
}
