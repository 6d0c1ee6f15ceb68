using Strata.Costs;
using Strata.Stores;

namespace Strata.Tests.Costs;

public sealed class PriceTableTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "strata-prices-" + Guid.NewGuid().ToString("N"));

    public PriceTableTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Defaults_cover_every_provider_and_class_with_source_and_date()
    {
        PriceTable t = PriceTable.LoadDefault();
        var expected = new Dictionary<string, string[]>
        {
            ["aws-s3"] = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"],
            ["backblaze-b2"] = ["STANDARD"],
            ["azure-blob"] = ["Hot", "Cool", "Cold", "Archive"],
            ["local"] = ["local"],
        };
        Assert.Equal(expected.Keys.Order(), t.Providers.Keys.Order());
        foreach ((string provider, string[] classes) in expected)
        {
            ProviderPrices p = t.Provider(provider);
            Assert.Equal(classes.Order(), p.Classes.Keys.Order());
            Assert.Equal("2026-11-22", p.Date);
            Assert.False(string.IsNullOrWhiteSpace(p.Source));
            foreach (StorageClassPrices c in p.Classes.Values)
            {
                Assert.Equal("2026-11-22", c.Date);
                Assert.False(string.IsNullOrWhiteSpace(c.Source));
            }
        }
        Assert.Empty(t.OverrideFiles);
    }

    [Fact]
    public void Defaults_match_the_reference_prices()
    {
        PriceTable t = PriceTable.LoadDefault();
        StorageClassPrices deep = t.Class("aws-s3", "DEEP_ARCHIVE");
        Assert.Equal(0.00099m, deep.BaseStorageRate);
        Assert.Equal(0.05m, deep.PutPer1000);
        Assert.Equal(180, deep.MinimumDays);
        Assert.Equal(8192, deep.OverheadWarmBytes);
        Assert.Equal(32768, deep.OverheadClassBytes);
        Assert.Equal([ThawTier.Standard, ThawTier.Bulk], deep.ThawTiers.Select(x => x.Tier));
        Assert.Equal(TimeSpan.FromHours(12), deep.ThawTiers[0].Slowest);
        Assert.Equal(TimeSpan.FromHours(48), deep.ThawTiers[1].Slowest);

        StorageClassPrices glacier = t.Class("aws-s3", "GLACIER");
        Assert.Equal([ThawTier.Expedited, ThawTier.Standard, ThawTier.Bulk], glacier.ThawTiers.Select(x => x.Tier));
        Assert.Equal(10m, glacier.ThawTiers[0].UsdPer1000);

        StorageClassPrices standard = t.Class("aws-s3", "STANDARD");
        Assert.Equal([0.023m, 0.022m, 0.021m], standard.Storage.Select(b => b.UsdPerGb));
        Assert.False(standard.NeedsThaw);
        Assert.Equal(131072, t.Class("aws-s3", "STANDARD_IA").MinimumBillableBytes);
        Assert.Equal(3m, t.Provider("backblaze-b2").Egress.FreeMultipleOfStored);
        Assert.All(t.Provider("local").Classes["local"].Storage, b => Assert.Equal(0m, b.UsdPerGb));
    }

    [Fact]
    public void Lookups_ignore_case_and_unknown_names_fail_clearly()
    {
        PriceTable t = PriceTable.LoadDefault();
        Assert.Equal("DEEP_ARCHIVE", t.Class("AWS-S3", "deep_archive").Name);
        var e = Assert.Throws<PriceTableException>(() => t.Class("aws-s3", "REDUCED_REDUNDANCY"));
        Assert.Contains("REDUCED_REDUNDANCY", e.Message);
        Assert.Throws<PriceTableException>(() => t.Provider("wasabi"));
    }

    [Fact]
    public void An_override_file_replaces_one_price_and_keeps_the_rest()
    {
        string file = Write("""
            {
              // one secondary source's Deep Archive PUT price
              "providers": { "aws-s3": { "classes": { "DEEP_ARCHIVE": { "put_per_1000": 0.03 } } } }
            }
            """);
        PriceTable defaults = PriceTable.LoadDefault();
        PriceTable t = PriceTable.Load(file);
        StorageClassPrices deep = t.Class("aws-s3", "DEEP_ARCHIVE");
        Assert.Equal(0.03m, deep.PutPer1000);
        Assert.Equal(defaults.Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate, deep.BaseStorageRate);
        Assert.Equal(defaults.Class("aws-s3", "DEEP_ARCHIVE").ThawTiers, deep.ThawTiers);
        Assert.Contains(file, deep.Source);
        AssertSameClass(defaults.Class("aws-s3", "GLACIER"), t.Class("aws-s3", "GLACIER"));
        Assert.Equal([file], t.OverrideFiles);

        // The estimate follows the override.
        decimal put = CostModel.EstimateUpload(t, "aws-s3", "DEEP_ARCHIVE", 2000, 0).PutUsd;
        Assert.Equal(2000 * 0.03m / 1000, put);
    }

    [Fact]
    public void An_override_file_adds_a_provider_and_replaces_tier_lists_whole()
    {
        string file = Write("""
            {
              "providers": {
                "wasabi": {
                  "region": "us-east-1", "warm_class": "STANDARD",
                  "egress": { "tiers": [ { "usd_per_gb": 0 } ] },
                  "classes": { "STANDARD": { "storage": [ { "usd_per_gb": 0.0069 } ], "put_per_1000": 0, "get_per_1000": 0, "minimum_days": 90 } }
                },
                "aws-s3": { "egress": { "tiers": [ { "usd_per_gb": 0.02 } ] } }
              }
            }
            """);
        PriceTable t = PriceTable.Load(file);
        Assert.Equal(0.0069m, t.Class("wasabi", "STANDARD").BaseStorageRate);
        Assert.Equal(90, t.Class("wasabi", "STANDARD").MinimumDays);
        Assert.Equal("user file " + file, t.Provider("wasabi").Source);
        PriceBand only = Assert.Single(t.Provider("aws-s3").Egress.Tiers);
        Assert.Equal(0.02m, only.UsdPerGb);
        Assert.Equal(10 * 0.02m, CostModel.Egress(t.Provider("aws-s3").Egress, 10 * CostModel.BytesPerGb, inRegion: false));
    }

    [Theory]
    [InlineData("""{ "providers": { "aws-s3": { "classes": { "DEEP_ARCHIVE": { "put_per_1000": -1 } } } } }""", "negative")]
    [InlineData("""{ "providers": { "aws-s3": { "classes": { "DEEP_ARCHIVE": { "put_per_thousand": 1 } } } } }""", "put_per_thousand")]
    [InlineData("""{ "providers": { "aws-s3": { "classes": { "GLACIER": { "thaw": [ { "tier": "instant", "usd_per_gb": 1, "usd_per_1000": 1, "slowest_hours": 1 } ] } } } } }""", "instant")]
    [InlineData("""{ "providers": { "x": { "warm_class": "A", "egress": { "tiers": [ { "usd_per_gb": 0 } ] }, "classes": { "A": { "put_per_1000": 0, "get_per_1000": 0 } } } } }""", "storage")]
    [InlineData("""{ "version": 2 }""", "version 2")]
    [InlineData("""{ "providers": """, "not a valid price table")]
    public void A_bad_override_file_is_refused_with_a_message_naming_the_problem(string json, string expected)
    {
        string file = Write(json);
        var e = Assert.Throws<PriceTableException>(() => PriceTable.Load(file));
        Assert.Contains(expected, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_missing_named_file_is_an_error()
    {
        var e = Assert.Throws<PriceTableException>(() => PriceTable.Load(Path.Combine(_dir, "nope.json")));
        Assert.Contains("nope.json", e.Message);
    }

    [Fact]
    public void The_effective_table_round_trips_through_its_json()
    {
        PriceTable defaults = PriceTable.LoadDefault();
        PriceTable again = PriceTable.Load(Write(defaults.ToJson()));
        foreach (ProviderPrices p in defaults.Providers.Values)
        {
            ProviderPrices q = again.Provider(p.Key);
            Assert.Equal(p.Egress.Tiers, q.Egress.Tiers);
            Assert.Equal(p.Source, q.Source);
            foreach (StorageClassPrices c in p.Classes.Values)
            {
                AssertSameClass(c, q.Class(c.Name));
            }
        }
    }

    private static void AssertSameClass(StorageClassPrices expected, StorageClassPrices actual)
    {
        Assert.Equal(expected.Storage, actual.Storage);
        Assert.Equal(expected.ThawTiers, actual.ThawTiers);
        Assert.Equal(expected, actual with { Storage = expected.Storage, ThawTiers = expected.ThawTiers });
    }

    private string Write(string json)
    {
        string file = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(file, json);
        return file;
    }
}

/// <summary>The lookup order of Load(null). Changes process environment variables, so it runs alone.</summary>
[Collection(nameof(PriceEnvironmentCollection))]
public sealed class PriceTableEnvironmentTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "strata-prices-env-" + Guid.NewGuid().ToString("N"));
    private readonly string? _xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
    private readonly string? _env = Environment.GetEnvironmentVariable(PriceTable.EnvironmentVariable);

    public PriceTableEnvironmentTests() => Directory.CreateDirectory(Path.Combine(_dir, "strata"));

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", _xdg);
        Environment.SetEnvironmentVariable(PriceTable.EnvironmentVariable, _env);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Explicit_path_beats_the_environment_which_beats_the_config_folder()
    {
        Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", _dir);
        Environment.SetEnvironmentVariable(PriceTable.EnvironmentVariable, null);
        Assert.Equal(0.00099m, PriceTable.Load(null).Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate); // no file yet: defaults

        string config = Path.Combine(_dir, "strata", "prices.json");
        Assert.Equal(config, PriceTable.DefaultOverridePath());
        File.WriteAllText(config, Rate(0.001m));
        Assert.Equal(0.001m, PriceTable.Load(null).Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate);

        string env = Path.Combine(_dir, "env.json");
        File.WriteAllText(env, Rate(0.002m));
        Environment.SetEnvironmentVariable(PriceTable.EnvironmentVariable, env);
        Assert.Equal(0.002m, PriceTable.Load(null).Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate);

        string given = Path.Combine(_dir, "given.json");
        File.WriteAllText(given, Rate(0.003m));
        Assert.Equal(0.003m, PriceTable.Load(given).Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate);
        Assert.Equal(0.00099m, PriceTable.LoadDefault().Class("aws-s3", "DEEP_ARCHIVE").BaseStorageRate);
    }

    private static string Rate(decimal r) =>
        $$"""{ "providers": { "aws-s3": { "classes": { "DEEP_ARCHIVE": { "storage": [ { "usd_per_gb": {{r.ToString(System.Globalization.CultureInfo.InvariantCulture)}} } ] } } } } }""";
}

[CollectionDefinition(nameof(PriceEnvironmentCollection), DisableParallelization = true)]
public sealed class PriceEnvironmentCollection;
