using System.Net.Sockets;
using System.Text.Json;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Strata.Costs;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// The CLI against Azurite (scripts/services/azurite.sh, 127.0.0.1:10000, account devstoreaccount1) through
/// azure:CONTAINER:/PATH and the environment variables a user sets: init creates the container, backup puts data packs in
/// the Archive tier, a restore plans and prices the rehydration from the azure-blob price table, asks for consent,
/// requests it and restores byte for byte. Azurite keeps Archive (reads refused until rehydrated) but rehydrates at
/// once, so the waiting part of a thaw cannot be shown here. Fails (does not skip) when Azurite is down, unless
/// STRATA_SKIP_AZURE=1.
/// </summary>
public sealed class AzureEndToEndTests : IDisposable
{
    private const string Account = "devstoreaccount1";
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private const string Endpoint = "http://127.0.0.1:10000/devstoreaccount1";

    private readonly Sandbox _box = new("azure");
    private readonly string _container = "strata-e2e-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        if (Up())
        {
            Container().DeleteIfExists();
        }
        _box.Dispose();
    }

    private static bool Up()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", 10000);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static void Require()
    {
        bool up = Up();
        Skip.If(!up && Environment.GetEnvironmentVariable("STRATA_SKIP_AZURE") == "1", "STRATA_SKIP_AZURE=1 and Azurite is not running");
        Assert.True(up, "Azurite is not answering on 127.0.0.1:10000: run scripts/services/azurite.sh start (or set STRATA_SKIP_AZURE=1)");
    }

    private BlobContainerClient Container() => new(new Uri($"{Endpoint}/{_container}"), new StorageSharedKeyCredential(Account, Key));

    private Dictionary<string, string?> Env(string? key = Key)
    {
        var env = _box.Env();
        env["AZURE_ACCOUNT_NAME"] = Account;
        env["AZURE_ACCOUNT_KEY"] = key;
        env["AZURE_ACCOUNT_SAS"] = null;
        env["STRATA_AZURE_ENDPOINT"] = Endpoint;
        // Only the shipped price table: no user override file may change the numbers.
        env["XDG_CONFIG_HOME"] = Path.Combine(_box.Root, "config");
        env["STRATA_PRICES"] = null;
        return env;
    }

    private async Task<Dictionary<string, AccessTier?>> TiersAsync(string prefix)
    {
        var tiers = new Dictionary<string, AccessTier?>(StringComparer.Ordinal);
        await foreach (BlobItem b in Container().GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }))
        {
            tiers[b.Name] = b.Properties.AccessTier;
        }
        return tiers;
    }

    [SkippableFact]
    public async Task Init_backup_and_a_restore_that_rehydrates_archived_packs()
    {
        Require();
        string repo = $"azure:{_container}:/laptop";
        var files = new Dictionary<string, string>
        {
            ["photos/a.raw"] = _box.Write("photos/a.raw", Sandbox.RandomBytes(2_500_000, seed: 21)),
            ["photos/b.raw"] = _box.Write("photos/b.raw", Sandbox.RandomBytes(700_000, seed: 22)),
            ["notes/todo.txt"] = _box.Write("notes/todo.txt", "buy milk\n"),
        };

        CliResult init = await Cli.RunAsync(["--repo", repo, "init", "--pack-size", "1MiB"], Env());
        CliAssert.Ok(init);
        Assert.Contains($"at {repo}", init.Stdout, StringComparison.Ordinal);
        Assert.True((await Container().ExistsAsync()).Value, "init must create the container");
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "backup", _box.Source], Env()));

        // Data packs in Archive, everything else in Hot, all under the folder of the URL.
        Dictionary<string, AccessTier?> tiers = await TiersAsync("");
        Assert.All(tiers.Keys, k => Assert.StartsWith("laptop/", k, StringComparison.Ordinal));
        Assert.Contains(tiers, t => t.Key.StartsWith("laptop/data/", StringComparison.Ordinal));
        Assert.All(tiers, t => Assert.Equal(t.Key.StartsWith("laptop/data/", StringComparison.Ordinal) ? AccessTier.Archive : AccessTier.Hot, t.Value));

        // Without consent: the plan names Archive and its two rehydration priorities, priced, and nothing is requested.
        string target = _box.NewTarget("restored");
        CliResult refused = await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target], Env());
        CliAssert.FailsCleanly(2, refused, "--yes", "nothing was requested");
        Assert.Contains("Archive", refused.Stdout, StringComparison.Ordinal);
        CliResult json = await Cli.RunAsync(["--repo", repo, "--json", "restore", "latest", "--target", target], Env());
        CliAssert.Exit(2, json);
        JsonElement plan = Assert.Single(json.JsonMessages("plan"));
        int packs = plan.GetProperty("cold_packs").GetInt32();
        long bytes = plan.GetProperty("cold_bytes").GetInt64();
        Assert.True(packs >= 2, json.ToString());
        Assert.False(plan.GetProperty("simulated").GetBoolean());
        var expected = CostModel.EstimateColdRead(PriceTable.LoadDefault(), new ColdReadRequest("azure-blob", "Archive", bytes, packs, 7, false));
        var tierNames = plan.GetProperty("tiers").EnumerateArray().Select(t => t.GetProperty("tier").GetString()).ToList();
        Assert.Equal(["expedited", "standard"], tierNames.Order(StringComparer.Ordinal));
        foreach (TierEstimate e in expected)
        {
            JsonElement t = plan.GetProperty("tiers").EnumerateArray().Single(x => x.GetProperty("tier").GetString() == e.Tier.ToString().ToLowerInvariant());
            Assert.Equal((double)e.TotalUsd, t.GetProperty("total_usd").GetDouble(), 12);
        }
        Assert.All((await TiersAsync("laptop/data/")).Values, t => Assert.Equal(AccessTier.Archive, t));
        Assert.False(Directory.Exists(Sandbox.Restored(target, _box.Source)), "a refused restore must not write files");

        // With consent: the rehydrations are requested (Standard priority). On Azure this run would end waiting (exit 5,
        // with how to resume); Azurite has rehydrated them by the time the restore looks again, so it restores at once.
        CliResult restored = await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target, "--yes", "--tier", "standard"], Env());
        CliAssert.Ok(restored);
        Assert.Contains($"requested {packs} thaws at standard", restored.Stdout, StringComparison.Ordinal);
        Assert.Contains("restored 3 files", restored.Stdout, StringComparison.Ordinal);
        // Exactly the packs the restore needed were rehydrated; the band record (the backup's cold copy of its trees) stays archived.
        var after = (await TiersAsync("laptop/data/")).Values.ToList();
        Assert.Equal(packs, after.Count(t => t == AccessTier.Hot));
        Assert.Equal(after.Count - packs, after.Count(t => t == AccessTier.Archive));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
        foreach (string path in files.Values)
        {
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(Sandbox.Restored(target, path)));
        }

        // A rehydrated pack stays in Hot (Azure has no expiry for it): another restore needs no thaw and no consent.
        string again = _box.NewTarget("again");
        CliResult second = await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", again], Env());
        CliAssert.Ok(second);
        Assert.DoesNotContain("requested", second.Stdout, StringComparison.Ordinal);
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(again, _box.Source));
    }

    [SkippableFact]
    public async Task A_wrong_account_key_or_missing_credentials_fail_cleanly()
    {
        Require();
        string repo = $"azure:{_container}:/";
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "init"], Env()));

        string wrongKey = Convert.ToBase64String(new byte[64]);
        CliResult denied = await Cli.RunAsync(["--repo", repo, "snapshots"], Env(key: wrongKey));
        CliAssert.FailsCleanly(1, denied, "access denied to container " + _container, "Azure storage account devstoreaccount1", "AZURE_ACCOUNT_KEY");
        Assert.DoesNotContain(wrongKey, denied.Stdout + denied.Stderr, StringComparison.Ordinal);

        CliResult missing = await Cli.RunAsync(["--repo", repo, "snapshots"], Env(key: null));
        CliAssert.FailsCleanly(2, missing, "AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY", "AZURE_ACCOUNT_SAS");
        Assert.DoesNotContain("(Parameter", missing.Stderr, StringComparison.Ordinal);

        CliResult badName = await Cli.RunAsync(["--repo", "azure:Bad_Name:/", "snapshots"], Env());
        CliAssert.FailsCleanly(2, badName, "'Bad_Name' is not a valid container name");

        CliResult badClass = await Cli.RunAsync(["--repo", $"azure:{_container}:/other", "init", "--cold-class", "NEARLINE"], Env());
        CliAssert.FailsCleanly(2, badClass, "--cold-class", "Archive, Cold, Cool, Hot");
    }
}
