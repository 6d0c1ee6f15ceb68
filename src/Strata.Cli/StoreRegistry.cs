using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli;

/// <summary>
/// Repository locations in restic's forms. Each scheme has one factory; registration is explicit.
/// Every store is wrapped in the retry and concurrency decorators here, in one place.
/// </summary>
internal static class StoreRegistry
{
    /// <summary>Opens the store for a location. Remote stores get retries with backoff and a concurrency limit; a local folder is used as is.</summary>
    public static IStore Open(string location)
    {
        IStore inner = OpenRaw(location);
        return CrashingStore.FromEnvironment(inner is LocalStore ? inner : new RetryingStore(new LimitingStore(inner)));
    }

    /// <summary>Applies the repository's storage settings (cold class, staging) to the store it was opened with.</summary>
    public static IStore ApplyStorage(IStore store, string location, StorageParameters storage)
    {
        if (store.Find<LocalStore>() is { } local)
        {
            local.StagesWarm = storage.StageWarm;
            return store;
        }
        if (store.Find<Strata.Stores.S3.S3Store>() is { } s3 && (s3.Options.ColdStorageClass != storage.ColdClass || s3.Options.StageWarm != storage.StageWarm))
        {
            var options = s3.Options with { ColdStorageClass = storage.ColdClass, StageWarm = storage.StageWarm };
            return new RetryingStore(new LimitingStore(new Strata.Stores.S3.S3Store(options)));
        }
        if (store.Find<Strata.Stores.Azure.AzureStore>() is { } azure)
        {
            string tier = Strata.Stores.Azure.AzureStoreOptions.TierForColdClass(storage.ColdClass)
                ?? throw new UserInputException($"the repository's cold class '{storage.ColdClass}' is not an Azure tier ({string.Join(", ", Strata.Stores.Azure.AzureStoreOptions.ColdTiers)})");
            if (azure.Options.ColdTier != tier || azure.Options.StageWarm != storage.StageWarm)
            {
                return new RetryingStore(new LimitingStore(azure.WithOptions(o => o with { ColdTier = tier, StageWarm = storage.StageWarm })));
            }
        }
        _ = location;
        return store;
    }

    /// <summary>
    /// The cold class a new repository at <paramref name="location"/> records: on Azure an access tier (Archive, Cold,
    /// Cool, Hot; S3's names map to their nearest tier), elsewhere an S3 class (Azure's names map the other way).
    /// </summary>
    public static string ColdClassFor(string location, string coldClass, string option = "--cold-class")
    {
        string? tier = Strata.Stores.Azure.AzureStoreOptions.TierForColdClass(coldClass);
        if (location.StartsWith("azure:", StringComparison.Ordinal))
        {
            return tier ?? throw new UserInputException($"{option}: '{coldClass}' is not an Azure tier: {string.Join(", ", Strata.Stores.Azure.AzureStoreOptions.ColdTiers)}");
        }
        string upper = coldClass.ToUpperInvariant();
        if (StorageParameters.ColdClasses.Contains(upper))
        {
            return upper;
        }
        return tier switch
        {
            "Archive" => "DEEP_ARCHIVE",
            "Cold" => "GLACIER_IR",
            "Cool" => "STANDARD_IA",
            "Hot" => "STANDARD",
            _ => throw new UserInputException($"{option}: '{coldClass}' is not one of {string.Join(", ", StorageParameters.ColdClasses)}"),
        };
    }

    /// <summary>Prepares a new repository's location (creates the S3 bucket if missing).</summary>
    public static async Task PrepareForInitAsync(string location, CancellationToken ct)
    {
        if (location.StartsWith("s3:", StringComparison.Ordinal))
        {
            await using var s3 = (Strata.Stores.S3.S3Store)OpenRemote("s3:", location);
            await s3.CreateBucketIfMissingAsync(ct);
        }
        if (location.StartsWith(WebDavLocation.Scheme, StringComparison.Ordinal))
        {
            await using var dav = (WebDavStore)OpenRemote(WebDavLocation.Scheme, location);
            await dav.CreateFolderAsync(ct);
        }
        if (location.StartsWith("sftp:", StringComparison.Ordinal))
        {
            await using var sftp = (Strata.Stores.Sftp.SftpStore)OpenRemote("sftp:", location);
            await sftp.CreateRootIfMissingAsync(ct);
        }
        if (location.StartsWith("azure:", StringComparison.Ordinal))
        {
            await using var azure = (Strata.Stores.Azure.AzureStore)OpenRemote("azure:", location);
            await azure.CreateContainerIfMissingAsync(ct);
        }
    }

    /// <summary>
    /// For init --object-lock: the location must be on S3; the bucket is created with Object Lock (or must have it) and
    /// gets a default retention of <paramref name="days"/> days in <paramref name="mode"/>.
    /// </summary>
    public static async Task EnableObjectLockAsync(string location, string mode, int days, CancellationToken ct)
    {
        if (!location.StartsWith("s3:", StringComparison.Ordinal))
        {
            throw new UserInputException($"--object-lock needs an S3 repository (s3:...), not {Redact(location)}");
        }
        await using var s3 = (Strata.Stores.S3.S3Store)OpenRemote("s3:", location);
        try
        {
            await s3.EnableObjectLockAsync(mode, days, ct);
        }
        catch (Strata.Stores.S3.ObjectLockUnavailableException e)
        {
            throw new UserInputException(e.Message);
        }
    }

    private static IStore OpenRaw(string location)
    {
        if (location.StartsWith("local:", StringComparison.Ordinal))
        {
            return new LocalStore(location["local:".Length..]);
        }
        foreach (string scheme in new[] { "s3:", "rest:", "webdav:", "sftp:", "azure:", "gs:", "b2:", "swift:", "rclone:" })
        {
            if (location.StartsWith(scheme, StringComparison.Ordinal))
            {
                return OpenRemote(scheme, location);
            }
        }
        if (location.Contains("://", StringComparison.Ordinal))
        {
            throw new UserInputException($"unknown repository location '{location}': use a folder path or s3:..., rest:..., webdav:..., sftp:..., azure:...");
        }
        return new LocalStore(location);
    }

    private static IStore OpenRemote(string scheme, string location) => scheme switch
    {
        "s3:" => OpenS3(location),
        "rest:" => OpenRest(location),
        "webdav:" => OpenWebDav(location),
        "sftp:" => OpenSftp(location),
        "azure:" => OpenAzure(location),
        _ => throw new UserInputException($"repositories of the form '{scheme}...' are not supported by this build yet ({Redact(location)})"),
    };

    private static IStore OpenRest(string location)
    {
        try
        {
            return RestStore.Open(location);
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{Redact(location)}: {e.Message}");
        }
    }

    private static IStore OpenWebDav(string location)
    {
        try
        {
            return WebDavStore.Open(location);
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{WebDavLocation.Redact(location)}: {e.Message}");
        }
    }

    private static IStore OpenSftp(string location)
    {
        try
        {
            return new Strata.Stores.Sftp.SftpStore(Strata.Stores.Sftp.SftpStoreOptions.FromEnvironment(location));
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{Strata.Stores.Sftp.SftpLocation.Redact(location)}: {e.Message}");
        }
    }

    private static IStore OpenS3(string location)
    {
        Strata.Stores.S3.S3StoreOptions options;
        try
        {
            options = Strata.Stores.S3.S3Store.ParseUrl(location);
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{Redact(location)}: {e.Message}");
        }
        return new Strata.Stores.S3.S3Store(options);
    }

    /// <summary>azure:CONTAINER:/PATH with AZURE_ACCOUNT_NAME, AZURE_ACCOUNT_KEY or AZURE_ACCOUNT_SAS, AZURE_ENDPOINT_SUFFIX, STRATA_AZURE_ENDPOINT.</summary>
    private static IStore OpenAzure(string location)
    {
        try
        {
            return new Strata.Stores.Azure.AzureStore(Strata.Stores.Azure.AzureConnection.FromEnvironment(location, Environment.GetEnvironmentVariable));
        }
        catch (ArgumentException e)
        {
            // The message is for people: without .NET's " (Parameter 'env')" suffix.
            string message = e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
            throw new UserInputException($"{location}: {message}");
        }
    }

    public static string Redact(string location)
    {
        int at = location.IndexOf('@', StringComparison.Ordinal);
        int scheme = location.IndexOf("://", StringComparison.Ordinal);
        if (at > 0 && scheme > 0 && at > scheme)
        {
            int colon = location.IndexOf(':', scheme + 3);
            if (colon > 0 && colon < at)
            {
                return location[..(colon + 1)] + "***" + location[at..];
            }
        }
        return location;
    }
}
