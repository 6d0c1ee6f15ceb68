using Strata.Costs;
using Strata.Stores;

namespace Strata.Tests.Costs;

/// <summary>Every expected number is computed here from the price table's own entries, not copied from the model.</summary>
public sealed class CostModelTests
{
    private const long MiB = 1L << 20;
    private const decimal Gb = 1L << 30;
    private static readonly PriceTable Prices = PriceTable.LoadDefault();
    private static readonly StorageClassPrices Deep = Prices.Class("aws-s3", "DEEP_ARCHIVE");
    private static readonly StorageClassPrices Standard = Prices.Class("aws-s3", "STANDARD");

    private static RetrievalTier Tier(StorageClassPrices c, ThawTier t) => c.ThawTiers.Single(x => x.Tier == t);

    [Fact]
    public void Restore_of_ten_128MiB_packs_from_deep_archive_in_and_out_of_region()
    {
        const int packs = 10;
        long bytes = packs * 128 * MiB;
        decimal gb = bytes / Gb; // 1.25
        foreach (bool inRegion in new[] { false, true })
        {
            var tiers = CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, packs, 7, inRegion));
            Assert.Equal([ThawTier.Standard, ThawTier.Bulk], tiers.Select(t => t.Tier)); // no Expedited on Deep Archive
            foreach (TierEstimate t in tiers)
            {
                RetrievalTier price = Tier(Deep, t.Tier);
                Assert.Equal(price.UsdPerGb * gb, t.RetrievalUsd);
                Assert.Equal(packs * (price.UsdPer1000 + Deep.GetPer1000) / 1000m, t.RequestsUsd);
                Assert.Equal(0m, t.EgressUsd); // 1.25 GB is inside the free 100 GB either way
                Assert.Equal(gb * Standard.BaseStorageRate * 7 / 30m, t.ThawedStorageUsd);
                Assert.Equal(price.Slowest, t.Slowest);
            }
        }
        // The same by hand, Standard tier: 1.25 x 0.02 + 10 x (0.10 + 0.0004) / 1000 + 1.25 x 0.023 x 7 / 30.
        var standard = CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, packs, 7, false))[0];
        Assert.Equal(0.025m + 0.001004m + (1.25m * 0.023m * 7 / 30m), standard.TotalUsd);
    }

    [Fact]
    public void Restore_of_1000_packs_pays_egress_beyond_the_free_allowance_only_out_of_region()
    {
        const int packs = 1000;
        long bytes = packs * 128 * MiB; // 125 GB
        decimal gb = bytes / Gb;
        var outside = CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, packs, 1, false));
        var inside = CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", bytes, packs, 1, true));
        var egress = Prices.Provider("aws-s3").Egress.Tiers;
        decimal expectedEgress = (gb - egress[0].UpToGb!.Value) * egress[1].UsdPerGb; // (125 - 100) x 0.09
        Assert.Equal(2.25m, expectedEgress);
        for (int i = 0; i < outside.Count; i++)
        {
            Assert.Equal(expectedEgress, outside[i].EgressUsd);
            Assert.Equal(0m, inside[i].EgressUsd);
            Assert.Equal(outside[i].TotalUsd - expectedEgress, inside[i].TotalUsd);
        }
        TierEstimate bulk = outside.Single(t => t.Tier == ThawTier.Bulk);
        Assert.Equal((gb * Tier(Deep, ThawTier.Bulk).UsdPerGb) + (packs * (Tier(Deep, ThawTier.Bulk).UsdPer1000 + Deep.GetPer1000) / 1000m)
            + expectedEgress + (gb * Standard.BaseStorageRate / 30m), bulk.TotalUsd);
    }

    [Fact]
    public void Egress_walks_the_tiers()
    {
        EgressPrices e = Prices.Provider("aws-s3").Egress;
        long bytes = 20L * 1024 * (1L << 30); // 20 TB
        decimal expected = ((10240m - 100m) * 0.09m) + ((20480m - 10240m) * 0.085m);
        Assert.Equal(expected, CostModel.Egress(e, bytes, inRegion: false));
        Assert.Equal(0m, CostModel.Egress(e, bytes, inRegion: true));
    }

    [Fact]
    public void B2_downloads_are_free_up_to_three_times_what_is_stored()
    {
        EgressPrices e = Prices.Provider("backblaze-b2").Egress;
        long tb = 1L << 40;
        Assert.Equal(0m, CostModel.Egress(e, 3 * tb, false, storedBytes: tb));
        Assert.Equal(1024m * e.Tiers[0].UsdPerGb, CostModel.Egress(e, 4 * tb, false, storedBytes: tb));
        Assert.Equal(4096m * e.Tiers[0].UsdPerGb, CostModel.Egress(e, 4 * tb, false)); // stored amount unknown: charged
    }

    [Fact]
    public void Classes_read_without_a_thaw_give_one_immediate_standard_estimate()
    {
        long bytes = 10 * (1L << 30);
        foreach (string cls in new[] { "STANDARD", "STANDARD_IA", "GLACIER_IR" })
        {
            StorageClassPrices c = Prices.Class("aws-s3", cls);
            TierEstimate t = Assert.Single(CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", cls, bytes, 5, 7, true)));
            Assert.Equal(ThawTier.Standard, t.Tier);
            Assert.Equal(TimeSpan.Zero, t.Slowest);
            Assert.Equal(c.ReadUsdPerGb * 10, t.RetrievalUsd);
            Assert.Equal(5 * c.GetPer1000 / 1000m, t.RequestsUsd);
            Assert.Equal(0m, t.ThawedStorageUsd);
        }
        Assert.Equal(0m, Assert.Single(CostModel.EstimateColdRead(Prices, new ColdReadRequest("local", "local", bytes, 5, 7, false))).TotalUsd);
    }

    [Fact]
    public void Glacier_offers_expedited_and_azure_archive_rehydrates_at_two_priorities()
    {
        var glacier = CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "GLACIER", 1L << 30, 1, 1, true));
        Assert.Equal([ThawTier.Expedited, ThawTier.Standard, ThawTier.Bulk], glacier.Select(t => t.Tier));
        var azure = CostModel.EstimateColdRead(Prices, new ColdReadRequest("azure-blob", "Archive", 1L << 30, 1, 1, true));
        Assert.Equal([ThawTier.Expedited, ThawTier.Standard], azure.Select(t => t.Tier));
        // The thawed copy is billed at Azure's warm class (Hot).
        Assert.Equal(Prices.Class("azure-blob", "Hot").BaseStorageRate / 30m, azure[0].ThawedStorageUsd);
    }

    [Fact]
    public void One_TiB_in_deep_archive_as_128MiB_packs_includes_the_per_object_overhead()
    {
        long tib = 1L << 40;
        long packs = tib / (128 * MiB); // 8,192
        StorageEstimate e = CostModel.EstimateStorage(Prices, "aws-s3", "DEEP_ARCHIVE", Enumerable.Repeat(128 * MiB, (int)packs));
        Assert.Equal(8192, e.Objects);
        Assert.Equal(tib, e.Bytes);
        Assert.Equal(tib + (packs * Deep.OverheadClassBytes), e.BillableBytes);
        decimal archived = (1024m + (packs * 32768m / Gb)) * Deep.BaseStorageRate; // 1,024.25 GB at 0.00099
        decimal index = packs * 8192m / Gb * Standard.BaseStorageRate;             // 0.0625 GB at 0.023
        Assert.Equal(archived, e.StorageUsd);
        Assert.Equal(index, e.OverheadWarmUsd);
        Assert.Equal(1024.25m * 0.00099m + (0.0625m * 0.023m), e.MonthlyUsd);
        // The totals-only form agrees when objects are larger than any minimum.
        Assert.Equal(e, CostModel.EstimateStorage(Prices, "aws-s3", "DEEP_ARCHIVE", packs, tib));
    }

    [Fact]
    public void Small_objects_are_billed_at_the_minimum_billable_size()
    {
        StorageClassPrices ia = Prices.Class("aws-s3", "STANDARD_IA");
        StorageEstimate e = CostModel.EstimateStorage(Prices, "aws-s3", "STANDARD_IA", [1024, 1024, 1L << 30]);
        Assert.Equal((2 * ia.MinimumBillableBytes) + (1L << 30), e.BillableBytes);
        Assert.Equal(e.BillableBytes / Gb * ia.BaseStorageRate, e.MonthlyUsd);
    }

    [Fact]
    public void Standard_storage_is_tiered()
    {
        long tb = 1L << 40;
        StorageEstimate e = CostModel.EstimateStorage(Prices, "aws-s3", "STANDARD", 1, 600 * tb);
        var bands = Standard.Storage;
        decimal expected = (51200m * bands[0].UsdPerGb) + ((512000m - 51200m) * bands[1].UsdPerGb) + (((600m * 1024) - 512000m) * bands[2].UsdPerGb);
        Assert.Equal(expected, e.MonthlyUsd);
    }

    [Fact]
    public void Upload_costs_one_put_per_object()
    {
        UploadEstimate u = CostModel.EstimateUpload(Prices, "aws-s3", "DEEP_ARCHIVE", 8192, 1L << 40);
        Assert.Equal(8192 * Deep.PutPer1000 / 1000m, u.PutUsd);
        Assert.Equal(0.4096m, u.PutUsd);
        Assert.Equal(0m, CostModel.EstimateUpload(Prices, "backblaze-b2", "STANDARD", 8192, 1L << 40).PutUsd);
    }

    [Fact]
    public void Early_deletion_at_30_days_of_180_bills_the_remaining_150_days()
    {
        long bytes = 128 * MiB;
        decimal fee = CostModel.EarlyDeletionUsd(Prices, "aws-s3", "DEEP_ARCHIVE", bytes, 30);
        decimal billableGb = (bytes + Deep.OverheadClassBytes) / Gb;
        Assert.Equal((Deep.MinimumDays - 30) * billableGb * Deep.BaseStorageRate / 30m, fee);
        Assert.Equal(150 * billableGb * 0.00099m / 30m, fee);
        Assert.Equal(0m, CostModel.EarlyDeletionUsd(Prices, "aws-s3", "DEEP_ARCHIVE", bytes, 180));
        Assert.Equal(0m, CostModel.EarlyDeletionUsd(Prices, "aws-s3", "DEEP_ARCHIVE", bytes, 400));
        Assert.Equal(0m, CostModel.EarlyDeletionUsd(Prices, "aws-s3", "STANDARD", bytes, 1));
    }

    [Fact]
    public void Compact_is_the_thaw_plus_the_rewrite_plus_early_deletion()
    {
        var thaw = new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", 20 * 128 * MiB, 20, 3, false);
        AgedObject[] old = [.. Enumerable.Repeat(new AgedObject(128 * MiB, 90), 20)];
        var result = CostModel.EstimateCompact(Prices, thaw, 8, 8 * 128 * MiB, old);
        var reads = CostModel.EstimateColdRead(Prices, thaw);
        Assert.Equal(reads.Select(r => r.Tier), result.Select(r => r.Tier));
        decimal rewrite = (8 * Deep.PutPer1000 / 1000m) + (8 * Standard.PutPer1000 / 1000m);
        decimal early = 20 * 90 * ((128 * MiB) + Deep.OverheadClassBytes) / Gb * Deep.BaseStorageRate / 30m;
        for (int i = 0; i < result.Count; i++)
        {
            Assert.Equal(reads[i], result[i].Thaw);
            Assert.Equal(rewrite, result[i].RewriteUsd);
            Assert.Equal(early, result[i].EarlyDeletionUsd);
            Assert.Equal(reads[i].TotalUsd + rewrite + early, result[i].TotalUsd);
        }
    }

    [Fact]
    public void Prune_reports_the_monthly_cost_of_dead_data()
    {
        PruneEstimate p = CostModel.EstimatePrune(Prices, "aws-s3", "DEEP_ARCHIVE", 10L << 30, 4);
        decimal expected = ((10m + (4 * 32768m / Gb)) * Deep.BaseStorageRate) + (4 * 8192m / Gb * Standard.BaseStorageRate);
        Assert.Equal(expected, p.DeadUsdPerMonth);
    }

    [Fact]
    public void Recover_is_a_cold_read_of_every_pack()
    {
        var r = CostModel.EstimateRecover(Prices, "aws-s3", "DEEP_ARCHIVE", 100 * 128 * MiB, 100, 7, false);
        Assert.Equal(CostModel.EstimateColdRead(Prices, new ColdReadRequest("aws-s3", "DEEP_ARCHIVE", 100 * 128 * MiB, 100, 7, false)), r);
    }

    [Fact]
    public void Backup_counts_objects_as_the_archiver_writes_them()
    {
        var shape = new BackupShape(NewBytes: (300 * MiB) + 1, NewBlobs: 300, NewTreeBytes: 20_000, NewTrees: 10, AllTreeBytes: 50_000, AllTrees: 30,
            ColdPackSize: 128 * MiB, WarmPackSize: 16 * MiB);
        BackupEstimate e = CostModel.EstimateBackup(Prices, "aws-s3", "DEEP_ARCHIVE", "STANDARD", shape);
        Assert.Equal(3, e.DataPacks);   // 300 MiB + 1 byte in 128 MiB packs
        Assert.Equal(1, e.TreePacks);
        Assert.Equal(4, e.ColdObjects); // + the band record
        Assert.Equal(1 + 5 + 1 + 1, e.WarmObjects); // tree pack, 5 catalogs (4 cold packs + 1 tree pack), index segment, snapshot
        Assert.Equal(4 * Deep.PutPer1000 / 1000m, e.ColdPutUsd);
        Assert.Equal(e.WarmObjects * Standard.PutPer1000 / 1000m, e.WarmPutUsd);
        Assert.Equal(CostModel.EstimateStorage(Prices, "aws-s3", "DEEP_ARCHIVE", e.ColdObjects, e.ColdBytes).MonthlyUsd
            + CostModel.EstimateStorage(Prices, "aws-s3", "STANDARD", e.WarmObjects, e.WarmBytes).MonthlyUsd, e.AddedMonthlyUsd);
        Assert.True(e.ColdBytes >= shape.NewBytes + shape.AllTreeBytes);

        BackupEstimate staged = CostModel.EstimateBackup(Prices, "aws-s3", "DEEP_ARCHIVE", "STANDARD", shape with { StageWarm = true });
        Assert.Equal(e.WarmPutUsd + (4 * Standard.PutPer1000 / 1000m), staged.WarmPutUsd);

        BackupEstimate nothing = CostModel.EstimateBackup(Prices, "aws-s3", "DEEP_ARCHIVE", "STANDARD", new BackupShape(0, 0, 0, 0, 1000, 3, 128 * MiB, 16 * MiB));
        Assert.Equal(0, nothing.DataPacks);
        Assert.Equal(0, nothing.TreePacks);
        Assert.Equal(1, nothing.ColdObjects);
    }

    [Fact]
    public void Tiered_prices_start_at_zero_and_stop_at_the_quantity()
    {
        PriceBand[] bands = [new(10, 1m), new(20, 0.5m), new(null, 0.1m)];
        Assert.Equal(0m, CostModel.Tiered(bands, 0));
        Assert.Equal(5m, CostModel.Tiered(bands, 5));
        Assert.Equal(10m + 2.5m, CostModel.Tiered(bands, 15));
        Assert.Equal(10m + 5m + 1m, CostModel.Tiered(bands, 30));
    }
}
