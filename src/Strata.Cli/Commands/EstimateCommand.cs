using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Costs;
using Strata.Repository;
using Strata.Restorer;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>
/// `strata estimate`: what an operation would cost, answered from warm data, the price table and (for backup) the
/// user's own files. Never reads or thaws a cold object. Prune, compact and recover estimates are
/// <see cref="CostModel.EstimatePrune"/>, <see cref="CostModel.EstimateCompact"/> and <see cref="CostModel.EstimateRecover"/>;
/// those commands print them before they spend anything (`estimate recover` prints the last one already).
/// </summary>
internal static class EstimateCommand
{
    public static readonly Option<string?> Prices = new("--prices")
    {
        Description = "price table override file (default: $STRATA_PRICES, else $XDG_CONFIG_HOME/strata/prices.json if it exists, else the built-in prices)",
        Recursive = true,
    };

    private static readonly Argument<string[]> Paths = new("paths") { Arity = ArgumentArity.OneOrMore, Description = "files and folders a backup would read" };
    private static readonly Option<string[]> Exclude = new("--exclude", "-e") { Description = "exclude paths matching GLOB (repeatable)" };
    private static readonly Option<string[]> ExcludeFile = new("--exclude-file") { Description = "read exclude globs from a file, one per line (repeatable)" };
    private static readonly Option<string?> Host = new("--host") { Description = "the host name the backup would record (default: this machine's); finds the previous snapshot" };
    private static readonly Argument<string> SnapshotArg = new("snapshot") { Description = "snapshot id (or unique prefix), or 'latest'" };
    private static readonly Option<string[]> Include = new("--include", "-i") { Description = "restore only paths matching GLOB (repeatable)" };
    private static readonly Option<string[]> RestoreExclude = new("--exclude", "-e") { Description = "do not restore paths matching GLOB (repeatable)" };
    private static readonly Option<bool> InRegion = new("--in-region") { Description = "read from inside the provider's region (e.g. a VM in us-east-1): no egress charge" };
    private static readonly Option<int> Days = new("--days") { Description = "days the thawed copies are kept (billed as warm storage)", DefaultValueFactory = _ => 7 };

    public static Command Create()
    {
        var cmd = new Command("estimate", "what an operation would cost and how long it would take; never touches cold data");
        cmd.Options.Add(Prices);

        var backup = new Command("backup", "new bytes after dedup, new objects, upload cost and added monthly cost of backing up PATH...");
        backup.Arguments.Add(Paths);
        backup.Options.Add(Exclude);
        backup.Options.Add(ExcludeFile);
        backup.Options.Add(Host);
        backup.SetAction((p, ct) => GlobalOptions.Guard(() => BackupAsync(p, ct)));
        cmd.Subcommands.Add(backup);

        var storage = new Command("storage", "monthly cost of the repository, warm and cold apart (lists the store; needs no passphrase)");
        storage.SetAction((p, ct) => GlobalOptions.Guard(() => StorageAsync(p, ct)));
        cmd.Subcommands.Add(storage);

        var restore = new Command("restore", "time and cost of restoring a snapshot (or some of its paths), for each retrieval tier");
        restore.Arguments.Add(SnapshotArg);
        restore.Options.Add(Include);
        restore.Options.Add(RestoreExclude);
        restore.Options.Add(InRegion);
        restore.Options.Add(Days);
        restore.SetAction((p, ct) => GlobalOptions.Guard(() => RestoreAsync(p, ct)));
        cmd.Subcommands.Add(restore);

        var recover = new Command("recover", "time and cost of rebuilding everything from the cold packs alone (strata recover thaws every data pack)");
        recover.Options.Add(InRegion);
        recover.Options.Add(Days);
        recover.SetAction((p, ct) => GlobalOptions.Guard(() => RecoverAsync(p, ct)));
        cmd.Subcommands.Add(recover);

        var prices = new Command("prices", "print the effective price table as JSON (a template for an override file)");
        prices.SetAction((p, _) => GlobalOptions.Guard(() =>
        {
            Console.WriteLine(LoadPrices(p).ToJson());
            return Task.FromResult(ExitCodes.Ok);
        }));
        cmd.Subcommands.Add(prices);
        return cmd;
    }

    // ---------------- backup ----------------

    private static async Task<int> BackupAsync(ParseResult p, CancellationToken ct)
    {
        PriceTable prices = LoadPrices(p);
        var excludes = ExcludeMatcher.FromFiles(p.GetValue(Exclude) ?? [], p.GetValue(ExcludeFile) ?? []);
        string[] paths = p.GetValue(Paths) ?? [];
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        PriceRef where = Where(prices, repo.Store.Properties, repo.Config);
        var parents = new ParentTrees(repo, GlobalOptions.CacheRoot(p));
        BackupScan scan = await BackupEstimator.ScanAsync(repo, paths, excludes, parents, p.GetValue(Host) ?? Environment.MachineName, ct);
        var shape = new BackupShape(scan.NewBytes, scan.NewBlobs, scan.NewTreeBytes, scan.NewTrees, scan.AllTreeBytes, scan.AllTrees,
            repo.Config.Packs.ColdTargetSize, repo.Config.Packs.WarmTargetSize, repo.Config.Storage.StageWarm);
        BackupEstimate e = CostModel.EstimateBackup(prices, where.Provider, where.ColdClass, where.WarmClass, shape);

        if (p.GetValue(GlobalOptions.Json))
        {
            Emit(new BackupJson(
                scan.Files, scan.FilesUnchanged, scan.FilesRead, scan.BytesTotal, scan.BytesRead, scan.HasParent, scan.Skipped.Count,
                scan.NewBytes, scan.NewBlobs, e.DataPacks, e.TreePacks, e.ColdObjects, e.ColdBytes, e.WarmObjects, e.WarmBytes, e.NewObjects,
                Usd(e.ColdPutUsd), Usd(e.WarmPutUsd), Usd(e.UploadUsd), Usd(e.ColdMonthly.MonthlyUsd), Usd(e.WarmMonthly.MonthlyUsd), Usd(e.AddedMonthlyUsd),
                PricesInfo(prices, where)), EstimateJson.Default.BackupJson);
            return ExitCodes.Ok;
        }
        foreach (var s in scan.Skipped)
        {
            Console.Error.WriteLine($"warning: {s.Path}: {s.Error} (not counted)");
        }
        Console.WriteLine($"scanned {scan.Files} files, {Format.Bytes(scan.BytesTotal)}: {scan.FilesUnchanged} unchanged since the previous snapshot{(scan.HasParent ? "" : " (none found)")}, {scan.FilesRead} read ({Format.Bytes(scan.BytesRead)})");
        Console.WriteLine($"new data after dedup:  {Format.Bytes(scan.NewBytes)} in {scan.NewBlobs} blobs (before compression, so an upper bound)");
        Console.WriteLine($"new objects:           {e.NewObjects}: {e.ColdObjects} cold in {where.ColdClass} ({Count(e.DataPacks, "data pack")} + 1 band record), {e.WarmObjects} warm in {where.WarmClass} ({Count(e.TreePacks, "tree pack")}, {Count(e.DataPacks + e.TreePacks + 1, "catalog")}, 1 index segment, 1 snapshot)");
        Console.WriteLine($"upload cost:           {Money(e.UploadUsd)} (PUTs: {Money(e.ColdPutUsd)} cold, {Money(e.WarmPutUsd)} warm{(shape.StageWarm ? ", packs staged warm first" : "")}; transfer in is free)");
        Console.WriteLine($"added monthly cost:    {Money(e.AddedMonthlyUsd)} ({Money(e.ColdMonthly.MonthlyUsd)} cold for {Format.Bytes(e.ColdBytes)}, {Money(e.WarmMonthly.MonthlyUsd)} warm for {Format.Bytes(e.WarmBytes)})");
        PrintSource(prices, where);
        return ExitCodes.Ok;
    }

    // ---------------- storage ----------------

    private static async Task<int> StorageAsync(ParseResult p, CancellationToken ct)
    {
        PriceTable prices = LoadPrices(p);
        var (store, config) = await OpenStoreAsync(p, ct);
        await using var _ = store;
        PriceRef where = Where(prices, store.Properties, config);
        RepositoryStorageEstimate est = RepositoryUsage.Price(prices, Properties(store.Properties, where), await RepositoryUsage.ListAsync(store, ct));
        if (p.GetValue(GlobalOptions.Json))
        {
            Emit(StorageReport(est, prices, where), EstimateJson.Default.StorageJson);
            return ExitCodes.Ok;
        }
        PrintStorage(est);
        PrintSource(prices, where);
        return ExitCodes.Ok;
    }

    internal static StorageJson StorageReport(RepositoryStorageEstimate est, PriceTable prices, PriceRef where) => new(
        [.. est.Kinds.Select(k => new KindJson(ObjectKinds.Folder(k.Kind), k.Tier.ToString().ToLowerInvariant(), k.Cost.StorageClass, k.Objects, k.Bytes, k.Cost.BillableBytes, Usd(k.Cost.MonthlyUsd)))],
        TierTotals(est, Tier.Warm),
        TierTotals(est, Tier.Cold),
        Usd(est.MonthlyUsd()),
        PricesInfo(prices, where));

    private static TierJson TierTotals(RepositoryStorageEstimate est, Tier tier) => new(est.Objects(tier), est.Bytes(tier), Usd(est.MonthlyUsd(tier)));

    internal static void PrintStorage(RepositoryStorageEstimate est)
    {
        Console.WriteLine($"{"kind",-10} {"tier",-5} {"class",-14} {"objects",9} {"size",12} {"per month",12}");
        foreach (KindUsage k in est.Kinds)
        {
            Console.WriteLine($"{ObjectKinds.Folder(k.Kind),-10} {k.Tier.ToString().ToLowerInvariant(),-5} {k.Cost.StorageClass,-14} {k.Objects,9} {Format.Bytes(k.Bytes),12} {Money(k.Cost.MonthlyUsd),12}");
        }
        Console.WriteLine(new string('-', 67));
        foreach (Tier t in new[] { Tier.Warm, Tier.Cold })
        {
            string cls = t == Tier.Warm ? est.WarmClass : est.ColdClass;
            Console.WriteLine($"{t.ToString().ToLowerInvariant(),-10} {"",-5} {cls,-14} {est.Objects(t),9} {Format.Bytes(est.Bytes(t)),12} {Money(est.MonthlyUsd(t)),12}");
        }
        Console.WriteLine($"{"total",-10} {"",-5} {"",-14} {est.Objects(Tier.Warm) + est.Objects(Tier.Cold),9} {Format.Bytes(est.Bytes(Tier.Warm) + est.Bytes(Tier.Cold)),12} {Money(est.MonthlyUsd()),12}");
    }

    // ---------------- restore ----------------

    private static async Task<int> RestoreAsync(ParseResult p, CancellationToken ct)
    {
        PriceTable prices = LoadPrices(p);
        int days = CheckDays(p.GetValue(Days));
        bool inRegion = p.GetValue(InRegion);
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        repo.RequireOwner("estimating a restore");
        PriceRef where = Where(prices, repo.Store.Properties, repo.Config);
        SnapshotRef snap = await repo.FindSnapshotAsync(p.GetValue(SnapshotArg)!, ct);
        RestorePlan plan = await RestorePlanner.PlanAsync(repo, snap.Snapshot, new ExcludeMatcher(p.GetValue(Include) ?? []), new ExcludeMatcher(p.GetValue(RestoreExclude) ?? []), ct);
        IReadOnlyList<PlannedPack> cold = plan.ColdPacks;
        RestoreEstimate est = CostModel.EstimateRestore(prices, where.Provider, where.ColdClass, cold.Select(c => c.Bytes), days, inRegion);
        int thawed = plan.CountCold(ThawState.Thawed) + plan.CountCold(ThawState.Readable);
        int thawing = plan.CountCold(ThawState.Thawing);
        int missing = cold.Count(c => c.Missing);

        if (p.GetValue(GlobalOptions.Json))
        {
            Emit(new RestoreJson(snap.Id, plan.Files.Count, plan.FileBytes, est.Packs, est.Bytes, thawed, thawing, missing, days, inRegion,
                [.. est.Tiers.Select(ToJson)], PricesInfo(prices, where)), EstimateJson.Default.RestoreJson);
            return ExitCodes.Ok;
        }
        Console.WriteLine($"snapshot {snap.ShortId} ({snap.Snapshot.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss}): {plan.Files.Count} files, {Format.Bytes(plan.FileBytes)} to restore");
        bool needsThaw = prices.Class(where.Provider, where.ColdClass).NeedsThaw;
        Console.WriteLine($"cold packs to read: {est.Packs} ({Format.Bytes(est.Bytes)}) from {Describe(where)}{(needsThaw ? $"; thawed copies kept {days} days" : "")}; {(inRegion ? "in region (no egress)" : "out of region (egress charged)")}");
        if (needsThaw && thawed + thawing + missing > 0)
        {
            Console.WriteLine($"  now: {thawed} already readable, {thawing} thawing, {missing} missing (the estimate prices all of them as frozen)");
        }
        PrintTiers(est.Tiers);
        PrintSource(prices, where);
        return ExitCodes.Ok;
    }

    internal static void PrintTiers(IReadOnlyList<TierEstimate> tiers)
    {
        Console.WriteLine($"  {"tier",-10} {"ready",-14} {"retrieval",10} {"requests",10} {"egress",10} {"thawed copy",12} {"total",10}");
        foreach (TierEstimate t in tiers)
        {
            Console.WriteLine($"  {t.Tier,-10} {TimeRange(t.Fastest, t.Slowest),-14} {Money(t.RetrievalUsd),10} {Money(t.RequestsUsd),10} {Money(t.EgressUsd),10} {Money(t.ThawedStorageUsd),12} {Money(t.TotalUsd),10}");
        }
    }

    // ---------------- recover ----------------

    private static async Task<int> RecoverAsync(ParseResult p, CancellationToken ct)
    {
        PriceTable prices = LoadPrices(p);
        int days = CheckDays(p.GetValue(Days));
        bool inRegion = p.GetValue(InRegion);
        var (store, config) = await OpenStoreAsync(p, ct);
        await using var _ = store;
        PriceRef where = Where(prices, store.Properties, config);
        var sizes = new List<long>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Data, ct))
        {
            sizes.Add(o.Length);
        }
        var tiers = CostModel.EstimateRecover(prices, where.Provider, where.ColdClass, sizes.Sum(), sizes.Count, days, inRegion);
        if (p.GetValue(GlobalOptions.Json))
        {
            Emit(new RecoverJson(sizes.Count, sizes.Sum(), days, inRegion, [.. tiers.Select(ToJson)], PricesInfo(prices, where)), EstimateJson.Default.RecoverJson);
            return ExitCodes.Ok;
        }
        bool needsThaw = prices.Class(where.Provider, where.ColdClass).NeedsThaw;
        Console.WriteLine($"recover reads every data pack: {sizes.Count} packs ({Format.Bytes(sizes.Sum())}) from {Describe(where)}{(needsThaw ? $"; thawed copies kept {days} days" : "")}; {(inRegion ? "in region (no egress)" : "out of region (egress charged)")}");
        PrintTiers(tiers);
        PrintSource(prices, where);
        return ExitCodes.Ok;
    }

    // ---------------- shared ----------------

    /// <summary>Which provider and classes price this repository.</summary>
    internal sealed record PriceRef(string Provider, string ColdClass, string WarmClass);

    internal static PriceTable LoadPrices(ParseResult p)
    {
        try
        {
            return PriceTable.Load(p.GetValue(Prices));
        }
        catch (PriceTableException e)
        {
            throw new UserInputException(e.Message);
        }
    }

    /// <summary>
    /// The store names its provider and classes; the repository's config names the cold class it was created with, which
    /// wins when the provider's table knows it (a simulated cold folder created with --cold-class GLACIER is priced as GLACIER).
    /// </summary>
    internal static PriceRef Where(PriceTable prices, StoreProperties props, RepoConfig config)
    {
        ProviderPrices provider;
        try
        {
            provider = prices.Provider(props.PriceProvider);
        }
        catch (PriceTableException e)
        {
            throw new UserInputException($"{e.Message}; add it with --prices FILE");
        }
        string cold = provider.Classes.ContainsKey(config.Storage.ColdClass) ? provider.Class(config.Storage.ColdClass).Name : props.ColdStorageClass;
        foreach (string c in new[] { cold, props.WarmStorageClass })
        {
            if (!provider.Classes.ContainsKey(c))
            {
                throw new UserInputException($"price table has no class '{c}' for provider '{provider.Key}'; add it with --prices FILE");
            }
        }
        return new PriceRef(provider.Key, provider.Class(cold).Name, provider.Class(props.WarmStorageClass).Name);
    }

    internal static StoreProperties Properties(StoreProperties props, PriceRef where) =>
        props with { PriceProvider = where.Provider, ColdStorageClass = where.ColdClass, WarmStorageClass = where.WarmClass };

    /// <summary>The store and its config, without a passphrase (the listing and the config are readable without keys).</summary>
    internal static async Task<(IStore Store, RepoConfig Config)> OpenStoreAsync(ParseResult p, CancellationToken ct)
    {
        IStore store = GlobalOptions.OpenStore(p);
        try
        {
            RepoConfig config = await Repo.ReadConfigAsync(store, ct);
            IStore applied = StoreRegistry.ApplyStorage(store, GlobalOptions.RepoLocation(p), config.Storage);
            if (!ReferenceEquals(applied, store))
            {
                await store.DisposeAsync();
            }
            return (applied, config);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    private static int CheckDays(int days) =>
        days is >= 1 and <= 3650 ? days : throw new UserInputException($"--days: {days} is not between 1 and 3650");

    internal static PricesJson PricesInfo(PriceTable prices, PriceRef where)
    {
        ProviderPrices provider = prices.Provider(where.Provider);
        StorageClassPrices cold = provider.Class(where.ColdClass);
        StorageClassPrices warm = provider.Class(where.WarmClass);
        return new PricesJson(provider.Key, provider.Region, cold.Name, warm.Name, cold.Source, cold.Date, warm.Source, warm.Date, [.. prices.OverrideFiles]);
    }

    /// <summary>One line naming the prices used; the sources are in the JSON output and `strata estimate prices`.</summary>
    internal static void PrintSource(PriceTable prices, PriceRef where)
    {
        PricesJson info = PricesInfo(prices, where);
        string dates = info.ColdDate == info.WarmDate ? $"as of {info.ColdDate}" : $"as of {info.ColdDate} and {info.WarmDate}";
        string origin = info.OverrideFiles.Count > 0 ? $"defaults with overrides from {string.Join(", ", info.OverrideFiles)}" : "built-in defaults";
        Console.WriteLine($"prices: {info.Provider} ({info.Region}) {info.ColdClass} and {info.WarmClass} {dates}, {origin}; sources: strata estimate prices");
    }

    private static string Describe(PriceRef where) => where.Provider == where.ColdClass ? where.Provider : $"{where.Provider} {where.ColdClass}";

    private static string Count(long n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    private static TierEstimateJson ToJson(TierEstimate t) => new(
        t.Tier.ToString().ToLowerInvariant(), t.Fastest.TotalHours, t.Slowest.TotalHours,
        Usd(t.RetrievalUsd), Usd(t.RequestsUsd), Usd(t.EgressUsd), Usd(t.ThawedStorageUsd), Usd(t.TotalUsd));

    /// <summary>Amounts in JSON: rounded to a millionth of a dollar.</summary>
    internal static decimal Usd(decimal v) => Math.Round(v, 6, MidpointRounding.AwayFromZero);

    /// <summary>Amounts for people: cents from a dollar up, four decimals below (request charges are often fractions of a cent).</summary>
    internal static string Money(decimal v)
    {
        decimal a = Math.Abs(v);
        if (a is > 0 and < 0.00005m)
        {
            return v < 0 ? "-<$0.0001" : "<$0.0001";
        }
        string s = a == 0 ? "0.00" : a >= 1000 ? a.ToString("#,##0", CultureInfo.InvariantCulture) : a >= 1 ? a.ToString("0.00", CultureInfo.InvariantCulture) : a.ToString("0.0000", CultureInfo.InvariantCulture);
        return (v < 0 ? "-$" : "$") + s;
    }

    internal static string TimeRange(TimeSpan fastest, TimeSpan slowest)
    {
        if (slowest == TimeSpan.Zero)
        {
            return "now";
        }
        static string Unit(TimeSpan t) => t.TotalHours >= 1 ? "h" : "min";
        static string N(TimeSpan t, string unit) => (unit == "h" ? t.TotalHours : t.TotalMinutes).ToString("0.#", CultureInfo.InvariantCulture);
        string u = Unit(slowest);
        return fastest == TimeSpan.Zero ? $"within {N(slowest, u)} {u}" : $"{N(fastest, u)}-{N(slowest, u)} {u}";
    }

    internal static void Emit<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) => Console.WriteLine(JsonSerializer.Serialize(value, info));
}

internal sealed record PricesJson(string Provider, string Region, string ColdClass, string WarmClass, string ColdSource, string ColdDate, string WarmSource, string WarmDate, IReadOnlyList<string> OverrideFiles);

internal sealed record TierEstimateJson(string Tier, double FastestHours, double SlowestHours, decimal RetrievalUsd, decimal RequestsUsd, decimal EgressUsd, decimal ThawedStorageUsd, decimal TotalUsd);

internal sealed record BackupJson(
    long Files, long FilesUnchanged, long FilesRead, long BytesTotal, long BytesRead, bool HasParent, int Skipped,
    long NewBytes, long NewBlobs, long DataPacks, long TreePacks, long ColdObjects, long ColdBytes, long WarmObjects, long WarmBytes, long NewObjects,
    decimal ColdPutUsd, decimal WarmPutUsd, decimal UploadUsd, decimal ColdMonthlyUsd, decimal WarmMonthlyUsd, decimal AddedMonthlyUsd,
    PricesJson Prices)
{
    [JsonPropertyOrder(-1)]
    public string MessageType => "estimate_backup";
}

internal sealed record KindJson(string Kind, string Tier, string StorageClass, long Objects, long Bytes, long BillableBytes, decimal MonthlyUsd);

internal sealed record TierJson(long Objects, long Bytes, decimal MonthlyUsd);

internal sealed record StorageJson(IReadOnlyList<KindJson> Kinds, TierJson Warm, TierJson Cold, decimal MonthlyUsd, PricesJson Prices)
{
    [JsonPropertyOrder(-1)]
    public string MessageType => "estimate_storage";
}

internal sealed record RestoreJson(
    string SnapshotId, int Files, long FileBytes, long Packs, long Bytes, int PacksReadable, int PacksThawing, int PacksMissing, int Days, bool InRegion,
    IReadOnlyList<TierEstimateJson> Tiers, PricesJson Prices)
{
    [JsonPropertyOrder(-1)]
    public string MessageType => "estimate_restore";
}

internal sealed record RecoverJson(long Packs, long Bytes, int Days, bool InRegion, IReadOnlyList<TierEstimateJson> Tiers, PricesJson Prices)
{
    [JsonPropertyOrder(-1)]
    public string MessageType => "estimate_recover";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(BackupJson))]
[JsonSerializable(typeof(StorageJson))]
[JsonSerializable(typeof(RestoreJson))]
[JsonSerializable(typeof(RecoverJson))]
internal sealed partial class EstimateJson : JsonSerializerContext;
