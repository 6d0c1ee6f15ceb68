using Strata.Maintenance;
using Strata.Packs;
using Strata.Repository;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Core.Tests.Archiver;

/// <summary>
/// A run that stored its packs and catalogs but died before its index segment (what kill -9 leaves): the next backup
/// indexes those packs with their whole catalogs, so check finds the catalogs and the index in agreement. Found by
/// the e2e crash test when a kill landed after the band pack: the recovered band pack was indexed with no blobs.
/// </summary>
public sealed class InterruptedRunTests
{
    [Fact]
    public async Task Packs_of_a_run_that_died_before_its_segment_are_indexed_whole_by_the_next_backup()
    {
        await using TestRepository t = await TestRepository.CreateAsync(simulation: null);
        t.Write("a", TestRepository.RandomBytes(300_000, 1));
        t.Write("b/c", TestRepository.RandomBytes(200_000, 2));
        SnapshotRef first = await t.BackupAsync();
        // Undo the end of that run: its index segment and snapshot never got written.
        await foreach (ObjectInfo o in t.Repo.Store.ListAsync(ObjectKind.Index, t.Ct))
        {
            await t.Repo.Store.DeleteAsync(o.Name, t.Ct);
        }
        await t.Repo.Store.DeleteAsync(new ObjectName(ObjectKind.Snapshots, first.Id), t.Ct);

        Repo reopened = await t.ReopenAsync();
        Assert.Contains(reopened.UnsegmentedPackEntries, p => p.Kind == PackKind.Band && p.Entries.Count > 0);
        t.Write("d", TestRepository.RandomBytes(100_000, 3));
        await t.BackupAsync();

        Repo checking = await t.ReopenAsync();
        checking.PackCatalogs.Clear();
        await checking.LoadIndexAsync(t.Ct, keepCatalogs: true);
        Assert.Empty(checking.UnsegmentedPacks);
        CheckResult result = await new Checker(checking).RunAsync(readData: true, log: null, t.Ct);
        Assert.Empty(result.Findings);
    }
}
