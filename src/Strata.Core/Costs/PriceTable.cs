using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Stores;

namespace Strata.Costs;

/// <summary>A price table could not be read, or has no entry for what was asked.</summary>
public sealed class PriceTableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One band of a tiered price: applies to the quantity up to <paramref name="UpToGb"/> (cumulative; null = no limit).</summary>
public sealed record PriceBand(decimal? UpToGb, decimal UsdPerGb);

/// <summary>One retrieval tier of an archive class: what a thaw costs and how long it takes.</summary>
/// <param name="Fastest">Earliest the thawed copy is usually ready (zero when the source only says "within").</param>
/// <param name="Slowest">Latest the thawed copy is usually ready.</param>
public sealed record RetrievalTier(ThawTier Tier, decimal UsdPerGb, decimal UsdPer1000, TimeSpan Fastest, TimeSpan Slowest);

/// <summary>Prices of one storage class of one provider. Amounts in USD; GB = 2^30 bytes.</summary>
/// <param name="Storage">$/GB-month, tiered by the total stored in the class.</param>
/// <param name="PutPer1000">PUT, COPY, POST (and lifecycle transitions into the class) per 1,000 requests.</param>
/// <param name="ListPer1000">LIST per 1,000 requests.</param>
/// <param name="GetPer1000">GET per 1,000 requests.</param>
/// <param name="ReadUsdPerGb">Retrieval $/GB of a class read without a thaw (STANDARD_IA, GLACIER_IR, Cool, Cold).</param>
/// <param name="ThawTiers">Retrieval tiers of an archive class; empty when the class reads without a thaw.</param>
/// <param name="MinimumDays">Minimum storage duration; deleting earlier bills the remaining days.</param>
/// <param name="MinimumBillableBytes">Objects smaller than this are billed as this size.</param>
/// <param name="OverheadWarmBytes">Per-object bytes billed at the provider's warm class (archive index: 8 KB on AWS).</param>
/// <param name="OverheadClassBytes">Per-object bytes billed at this class's rate (archive metadata: 32 KB on AWS).</param>
public sealed record StorageClassPrices(
    string Name,
    IReadOnlyList<PriceBand> Storage,
    decimal PutPer1000,
    decimal GetPer1000,
    decimal ListPer1000,
    decimal ReadUsdPerGb,
    IReadOnlyList<RetrievalTier> ThawTiers,
    int MinimumDays,
    long MinimumBillableBytes,
    long OverheadWarmBytes,
    long OverheadClassBytes,
    string Source,
    string Date)
{
    public bool NeedsThaw => ThawTiers.Count > 0;

    /// <summary>The $/GB-month of the first band: the marginal rate of a small repository.</summary>
    public decimal BaseStorageRate => Storage.Count > 0 ? Storage[0].UsdPerGb : 0m;
}

/// <summary>Internet egress: tiered $/GB per month, the first band usually free.</summary>
/// <param name="FreeMultipleOfStored">Downloads free up to this multiple of the stored amount (Backblaze B2: 3); 0 for none.</param>
public sealed record EgressPrices(decimal FreeMultipleOfStored, IReadOnlyList<PriceBand> Tiers);

/// <summary>Prices of one provider in one region.</summary>
/// <param name="WarmClass">The class thawed copies and per-object index overhead are billed at (AWS: STANDARD).</param>
public sealed record ProviderPrices(
    string Key,
    string Region,
    string Currency,
    string WarmClass,
    EgressPrices Egress,
    IReadOnlyDictionary<string, StorageClassPrices> Classes,
    string Source,
    string Date)
{
    public StorageClassPrices Class(string storageClass) =>
        Classes.TryGetValue(storageClass, out StorageClassPrices? c)
            ? c
            : throw new PriceTableException($"price table has no storage class '{storageClass}' for provider '{Key}' (known: {string.Join(", ", Classes.Keys)})");

    public StorageClassPrices Warm => Class(WarmClass);
}

/// <summary>
/// The price table: per provider, region and storage class, every price the cost model uses.
/// Shipped defaults (<see cref="DefaultPrices"/>) merged with the user's override file, field by field.
/// Immutable once loaded; thread-safe.
/// </summary>
public sealed class PriceTable
{
    /// <summary>Environment variable naming an override file; wins over the default location.</summary>
    public const string EnvironmentVariable = "STRATA_PRICES";

    private PriceTable(IReadOnlyDictionary<string, ProviderPrices> providers, IReadOnlyList<string> overrideFiles)
    {
        Providers = providers;
        OverrideFiles = overrideFiles;
    }

    public IReadOnlyDictionary<string, ProviderPrices> Providers { get; }

    /// <summary>The user files merged over the defaults (empty for the shipped table).</summary>
    public IReadOnlyList<string> OverrideFiles { get; }

    public ProviderPrices Provider(string key) =>
        Providers.TryGetValue(key, out ProviderPrices? p)
            ? p
            : throw new PriceTableException($"price table has no provider '{key}' (known: {string.Join(", ", Providers.Keys)})");

    public StorageClassPrices Class(string provider, string storageClass) => Provider(provider).Class(storageClass);

    /// <summary>The shipped defaults only: no user file, no environment.</summary>
    public static PriceTable LoadDefault() => Build(ParseDocument(DefaultPrices.Json, "built-in price table"), []);

    /// <summary>
    /// The defaults merged with one user file: <paramref name="overridePath"/> if given; otherwise $STRATA_PRICES if set;
    /// otherwise $XDG_CONFIG_HOME/strata/prices.json (or ~/.config/strata/prices.json) if that file exists; otherwise the defaults.
    /// A named file that cannot be read is an error; a missing default-location file is not.
    /// </summary>
    public static PriceTable Load(string? overridePath)
    {
        string? path = overridePath ?? NonEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable));
        if (path is null)
        {
            string candidate = DefaultOverridePath();
            if (!File.Exists(candidate))
            {
                return LoadDefault();
            }
            path = candidate;
        }
        return LoadWithOverride(path);
    }

    /// <summary>The defaults merged with the file at <paramref name="path"/>, which must exist.</summary>
    public static PriceTable LoadWithOverride(string path)
    {
        string text;
        DateTime written;
        try
        {
            text = File.ReadAllText(path);
            written = File.GetLastWriteTimeUtc(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PriceTableException($"cannot read price file {path}: {e.Message}", e);
        }
        return FromJson(text, path, DateOnly.FromDateTime(written).ToString("yyyy-MM-dd"));
    }

    /// <summary>The defaults merged with an override document (for tests and callers that hold the text).</summary>
    public static PriceTable FromJson(string overrideJson, string origin, string? defaultDate = null)
    {
        PriceDocument user = ParseDocument(overrideJson, origin);
        PriceDocument merged = Merge(ParseDocument(DefaultPrices.Json, "built-in price table"), user, "user file " + origin, defaultDate ?? "unknown");
        return Build(merged, [origin]);
    }

    /// <summary>$XDG_CONFIG_HOME/strata/prices.json, else ~/.config/strata/prices.json.</summary>
    public static string DefaultOverridePath()
    {
        string? xdg = NonEmpty(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME"));
        string root = xdg ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return Path.Combine(root, "strata", "prices.json");
    }

    /// <summary>The effective table as an override-file document (indented JSON): a template for the user's own file.</summary>
    public string ToJson()
    {
        var doc = new PriceDocument { Version = 1, Providers = [] };
        foreach ((string key, ProviderPrices p) in Providers)
        {
            var pd = new ProviderDocument
            {
                Region = p.Region,
                Currency = p.Currency,
                WarmClass = p.WarmClass,
                Source = p.Source,
                Date = p.Date,
                Egress = new EgressDocument { FreeMultipleOfStored = p.Egress.FreeMultipleOfStored, Tiers = p.Egress.Tiers.Select(ToDoc).ToList() },
                Classes = [],
            };
            foreach ((string name, StorageClassPrices c) in p.Classes)
            {
                pd.Classes[name] = new ClassDocument
                {
                    Storage = c.Storage.Select(ToDoc).ToList(),
                    PutPer1000 = c.PutPer1000,
                    GetPer1000 = c.GetPer1000,
                    ListPer1000 = c.ListPer1000,
                    ReadUsdPerGb = c.ReadUsdPerGb,
                    MinimumDays = c.MinimumDays,
                    MinimumBillableBytes = c.MinimumBillableBytes,
                    OverheadWarmBytes = c.OverheadWarmBytes,
                    OverheadClassBytes = c.OverheadClassBytes,
                    Thaw = c.NeedsThaw
                        ? c.ThawTiers.Select(t => new ThawDocument
                        {
                            Tier = t.Tier.ToString().ToLowerInvariant(),
                            UsdPerGb = t.UsdPerGb,
                            UsdPer1000 = t.UsdPer1000,
                            FastestHours = (decimal)t.Fastest.TotalHours,
                            SlowestHours = (decimal)t.Slowest.TotalHours,
                        }).ToList()
                        : null,
                    Source = c.Source,
                    Date = c.Date,
                };
            }
            doc.Providers[key] = pd;
        }
        return JsonSerializer.Serialize(doc, PriceJson.Default.PriceDocument);

        static BandDocument ToDoc(PriceBand b) => new() { UpToGb = b.UpToGb, UsdPerGb = b.UsdPerGb };
    }

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>The reader's message without .NET type names: "unknown field 'x' at $.providers..." for a typo.</summary>
    private static string Describe(JsonException e)
    {
        string message = e.Message;
        int unmapped = message.IndexOf(" could not be mapped", StringComparison.Ordinal);
        if (unmapped > 0)
        {
            message = "unknown field " + message[..unmapped].Replace("The JSON property ", "", StringComparison.Ordinal);
        }
        else
        {
            int type = message.IndexOf(" Path:", StringComparison.Ordinal);
            message = type > 0 ? message[..type] : message;
            message = System.Text.RegularExpressions.Regex.Replace(message, @"\s*(to|into) type '[^']*'", "");
        }
        return e.Path is { Length: > 0 } path ? $"{message} (at {path})" : message;
    }

    private static PriceDocument ParseDocument(string json, string origin)
    {
        try
        {
            PriceDocument? doc = JsonSerializer.Deserialize(json, PriceJson.Default.PriceDocument);
            if (doc is null)
            {
                throw new PriceTableException($"{origin}: empty price table");
            }
            if (doc.Version is { } v && v != 1)
            {
                throw new PriceTableException($"{origin}: price table version {v} is not supported (expected 1)");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new PriceTableException($"{origin}: not a valid price table: {Describe(e)}", e);
        }
    }

    /// <summary>
    /// Merges <paramref name="user"/> over <paramref name="defaults"/>: a provider or class present in both is merged
    /// field by field (every field the user writes wins; lists such as storage bands, egress tiers and thaw tiers are
    /// replaced whole); new providers and classes are added and must be complete. A class the user touched without
    /// naming a source is credited to the user file.
    /// </summary>
    private static PriceDocument Merge(PriceDocument defaults, PriceDocument user, string userSource, string userDate)
    {
        var result = new PriceDocument { Version = 1, Providers = new(defaults.Providers ?? [], StringComparer.OrdinalIgnoreCase) };
        foreach ((string key, ProviderDocument up) in user.Providers ?? [])
        {
            if (!result.Providers.TryGetValue(key, out ProviderDocument? dp))
            {
                result.Providers[key] = Credit(up, userSource, userDate);
                continue;
            }
            var merged = new ProviderDocument
            {
                Region = up.Region ?? dp.Region,
                Currency = up.Currency ?? dp.Currency,
                WarmClass = up.WarmClass ?? dp.WarmClass,
                Egress = up.Egress is null ? dp.Egress : new EgressDocument
                {
                    FreeMultipleOfStored = up.Egress.FreeMultipleOfStored ?? dp.Egress?.FreeMultipleOfStored,
                    Tiers = up.Egress.Tiers ?? dp.Egress?.Tiers,
                },
                Source = up.Source ?? (up.Egress is not null || up.Region is not null || up.WarmClass is not null ? userSource : dp.Source),
                Date = up.Date ?? (up.Egress is not null || up.Region is not null || up.WarmClass is not null ? userDate : dp.Date),
                Classes = new(dp.Classes ?? [], StringComparer.OrdinalIgnoreCase),
            };
            foreach ((string name, ClassDocument uc) in up.Classes ?? [])
            {
                merged.Classes[name] = merged.Classes.TryGetValue(name, out ClassDocument? dc)
                    ? new ClassDocument
                    {
                        Storage = uc.Storage ?? dc.Storage,
                        PutPer1000 = uc.PutPer1000 ?? dc.PutPer1000,
                        GetPer1000 = uc.GetPer1000 ?? dc.GetPer1000,
                        ListPer1000 = uc.ListPer1000 ?? dc.ListPer1000,
                        ReadUsdPerGb = uc.ReadUsdPerGb ?? dc.ReadUsdPerGb,
                        MinimumDays = uc.MinimumDays ?? dc.MinimumDays,
                        MinimumBillableBytes = uc.MinimumBillableBytes ?? dc.MinimumBillableBytes,
                        OverheadWarmBytes = uc.OverheadWarmBytes ?? dc.OverheadWarmBytes,
                        OverheadClassBytes = uc.OverheadClassBytes ?? dc.OverheadClassBytes,
                        Thaw = uc.Thaw ?? dc.Thaw,
                        Source = uc.Source ?? userSource,
                        Date = uc.Date ?? userDate,
                    }
                    : Credit(uc, userSource, userDate);
            }
            result.Providers[key] = merged;
        }
        return result;
    }

    private static ProviderDocument Credit(ProviderDocument p, string source, string date)
    {
        p.Source ??= source;
        p.Date ??= date;
        foreach (ClassDocument c in (p.Classes ?? []).Values)
        {
            Credit(c, source, date);
        }
        return p;
    }

    private static ClassDocument Credit(ClassDocument c, string source, string date)
    {
        c.Source ??= source;
        c.Date ??= date;
        return c;
    }

    private static PriceTable Build(PriceDocument doc, IReadOnlyList<string> overrideFiles)
    {
        var providers = new Dictionary<string, ProviderPrices>(StringComparer.OrdinalIgnoreCase);
        foreach ((string key, ProviderDocument p) in doc.Providers ?? [])
        {
            string where = $"provider '{key}'";
            var classes = new Dictionary<string, StorageClassPrices>(StringComparer.OrdinalIgnoreCase);
            foreach ((string name, ClassDocument c) in p.Classes ?? [])
            {
                string cw = $"{where} class '{name}'";
                var thaw = new List<RetrievalTier>();
                foreach (ThawDocument t in c.Thaw ?? [])
                {
                    if (!Enum.TryParse(t.Tier, ignoreCase: true, out ThawTier tier) || !Enum.IsDefined(tier))
                    {
                        throw new PriceTableException($"{cw}: unknown retrieval tier '{t.Tier}' (expected bulk, standard or expedited)");
                    }
                    decimal fastest = NonNegative(t.FastestHours ?? 0m, $"{cw} tier {t.Tier} fastest_hours");
                    decimal slowest = NonNegative(Required(t.SlowestHours, $"{cw} tier {t.Tier} slowest_hours"), $"{cw} tier {t.Tier} slowest_hours");
                    thaw.Add(new RetrievalTier(
                        tier,
                        NonNegative(Required(t.UsdPerGb, $"{cw} tier {t.Tier} usd_per_gb"), cw),
                        NonNegative(Required(t.UsdPer1000, $"{cw} tier {t.Tier} usd_per_1000"), cw),
                        TimeSpan.FromSeconds((double)Math.Round(fastest * 3600m)),
                        TimeSpan.FromSeconds((double)Math.Round(slowest * 3600m))));
                }
                thaw.Sort((a, b) => a.Slowest.CompareTo(b.Slowest));
                classes[name] = new StorageClassPrices(
                    name,
                    Bands(c.Storage, $"{cw} storage"),
                    NonNegative(Required(c.PutPer1000, $"{cw} put_per_1000"), cw),
                    NonNegative(Required(c.GetPer1000, $"{cw} get_per_1000"), cw),
                    NonNegative(c.ListPer1000 ?? c.PutPer1000 ?? 0m, cw),
                    NonNegative(c.ReadUsdPerGb ?? 0m, cw),
                    thaw,
                    c.MinimumDays ?? 0,
                    c.MinimumBillableBytes ?? 0,
                    c.OverheadWarmBytes ?? 0,
                    c.OverheadClassBytes ?? 0,
                    c.Source ?? "unknown",
                    c.Date ?? "unknown");
            }
            var provider = new ProviderPrices(
                key,
                p.Region ?? "unknown",
                p.Currency ?? "USD",
                Required(p.WarmClass, $"{where} warm_class"),
                new EgressPrices(
                    NonNegative(p.Egress?.FreeMultipleOfStored ?? 0m, where),
                    Bands(p.Egress?.Tiers, $"{where} egress")),
                classes,
                p.Source ?? "unknown",
                p.Date ?? "unknown");
            if (!classes.ContainsKey(provider.WarmClass))
            {
                throw new PriceTableException($"{where}: warm_class '{provider.WarmClass}' is not one of its classes");
            }
            providers[key] = provider;
        }
        return new PriceTable(providers, overrideFiles);
    }

    private static List<PriceBand> Bands(List<BandDocument>? bands, string where)
    {
        if (bands is null || bands.Count == 0)
        {
            throw new PriceTableException($"{where}: at least one price band is needed");
        }
        var result = new List<PriceBand>(bands.Count);
        decimal previous = 0m;
        for (int i = 0; i < bands.Count; i++)
        {
            BandDocument b = bands[i];
            bool last = i == bands.Count - 1;
            if (b.UpToGb is { } upTo && upTo <= previous)
            {
                throw new PriceTableException($"{where}: up_to_gb must increase from band to band");
            }
            if (b.UpToGb is null && !last)
            {
                throw new PriceTableException($"{where}: only the last band may omit up_to_gb");
            }
            previous = b.UpToGb ?? previous;
            result.Add(new PriceBand(b.UpToGb, NonNegative(Required(b.UsdPerGb, $"{where} usd_per_gb"), where)));
        }
        return result;
    }

    private static T Required<T>(T? value, string what) where T : struct =>
        value ?? throw new PriceTableException($"price table: {what} is missing");

    private static string Required(string? value, string what) =>
        value ?? throw new PriceTableException($"price table: {what} is missing");

    private static decimal NonNegative(decimal value, string what) =>
        value >= 0 ? value : throw new PriceTableException($"price table: {what} must not be negative");
}

// The file format. Every field is nullable so a user file can name only what it changes.
internal sealed class PriceDocument
{
    public int? Version { get; set; }
    public Dictionary<string, ProviderDocument>? Providers { get; set; }
}

internal sealed class ProviderDocument
{
    public string? Region { get; set; }
    public string? Currency { get; set; }
    public string? WarmClass { get; set; }
    public string? Source { get; set; }
    public string? Date { get; set; }
    public EgressDocument? Egress { get; set; }
    public Dictionary<string, ClassDocument>? Classes { get; set; }
}

internal sealed class EgressDocument
{
    public decimal? FreeMultipleOfStored { get; set; }
    public List<BandDocument>? Tiers { get; set; }
}

internal sealed class BandDocument
{
    public decimal? UpToGb { get; set; }
    public decimal? UsdPerGb { get; set; }
}

internal sealed class ClassDocument
{
    public List<BandDocument>? Storage { get; set; }
    [JsonPropertyName("put_per_1000")]
    public decimal? PutPer1000 { get; set; }
    [JsonPropertyName("get_per_1000")]
    public decimal? GetPer1000 { get; set; }
    [JsonPropertyName("list_per_1000")]
    public decimal? ListPer1000 { get; set; }
    public decimal? ReadUsdPerGb { get; set; }
    public int? MinimumDays { get; set; }
    public long? MinimumBillableBytes { get; set; }
    public long? OverheadWarmBytes { get; set; }
    public long? OverheadClassBytes { get; set; }
    public List<ThawDocument>? Thaw { get; set; }
    public string? Source { get; set; }
    public string? Date { get; set; }
}

internal sealed class ThawDocument
{
    public string? Tier { get; set; }
    public decimal? UsdPerGb { get; set; }
    [JsonPropertyName("usd_per_1000")]
    public decimal? UsdPer1000 { get; set; }
    public decimal? FastestHours { get; set; }
    public decimal? SlowestHours { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(PriceDocument))]
internal sealed partial class PriceJson : JsonSerializerContext;
