using Azure.Storage.Blobs;

namespace Strata.Stores.Azure;

/// <summary>
/// Where and how an <see cref="AzureStore"/> keeps a repository: one container of one storage account, a folder in it,
/// and the access tiers. Holds no secrets: the account key or SAS token is handed to the store separately
/// (<see cref="AzureConnection"/>).
/// </summary>
public sealed record AzureStoreOptions
{
    public const int MiB = 1024 * 1024;

    /// <summary>Azure's page of a blob listing (the service's maximum).</summary>
    public const int MaxListPage = 5000;

    /// <summary>Access tiers allowed for cold objects (data packs), as the azure-blob price table names them.</summary>
    public static readonly IReadOnlyList<string> ColdTiers = ["Archive", "Cold", "Cool", "Hot"];

    /// <summary>Access tiers allowed for warm objects: every one of them reads at once.</summary>
    public static readonly IReadOnlyList<string> WarmTiers = ["Hot", "Cool", "Cold"];

    /// <summary>The storage account ("devstoreaccount1" for Azurite); messages name it.</summary>
    public required string AccountName { get; init; }

    /// <summary>The Blob service endpoint: https://ACCOUNT.blob.core.windows.net, or http://127.0.0.1:10000/devstoreaccount1 for Azurite.</summary>
    public required Uri ServiceUri { get; init; }

    /// <summary>The container; <see cref="AzureStore.CreateContainerIfMissingAsync"/> creates it at init.</summary>
    public required string Container { get; init; }

    /// <summary>A folder inside the container ("" for its root). Stored normalized: no leading '/', one trailing '/'.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The tier of cold objects (data packs). Archive needs a rehydration ("thaw") before a read.</summary>
    public string ColdTier { get; init; } = "Archive";

    /// <summary>The tier of warm objects (everything else), and the tier a thaw rehydrates data packs to.</summary>
    public string WarmTier { get; init; } = "Hot";

    /// <summary>Write cold objects to the warm tier first; the backup moves them to the cold tier once it is complete and verified.</summary>
    public bool StageWarm { get; init; }

    /// <summary>How many requests may run at once.</summary>
    public int Connections { get; init; } = 5;

    /// <summary>Retries inside the SDK for each request; the store's retry decorator retries whole operations on top.</summary>
    public int SdkRetries { get; init; } = 2;

    /// <summary>Objects up to this size go up in one Put Blob; larger ones as blocks committed at the end (never visible before).</summary>
    public int SingleUploadLimit { get; init; } = 32 * MiB;

    /// <summary>The size of each block of a larger object (and of the buffer the SDK holds for it).</summary>
    public int BlockSize { get; init; } = 8 * MiB;

    /// <summary>Blobs per listing page (Azure's maximum and default is 5,000); tests lower it to cross pages quickly.</summary>
    public int ListPageSize { get; init; } = MaxListPage;

    /// <summary>
    /// The REST API version spoken. Pinned rather than the SDK's newest, so an Azurite that checks versions (without
    /// --skipApiVersionCheck) accepts it too; Azure itself serves every published version.
    /// </summary>
    public BlobClientOptions.ServiceVersion ServiceVersion { get; init; } = BlobClientOptions.ServiceVersion.V2026_06_06;

    /// <summary>The prefix as blob names use it: "" or "a/b/".</summary>
    public string NormalizedPrefix
    {
        get
        {
            string p = Prefix.Trim('/');
            return p.Length == 0 ? "" : p + "/";
        }
    }

    /// <summary>
    /// The Azure tier a repository's cold class stands for. The config records the class chosen at init: an Azure
    /// name (Archive, Cold, Cool, Hot; any case), or an S3 name (the default DEEP_ARCHIVE, GLACIER → Archive,
    /// GLACIER_IR → Cold, STANDARD_IA / ONEZONE_IA → Cool, STANDARD → Hot). Null when it names nothing known.
    /// </summary>
    public static string? TierForColdClass(string coldClass)
    {
        foreach (string t in ColdTiers)
        {
            if (string.Equals(t, coldClass, StringComparison.OrdinalIgnoreCase))
            {
                return t;
            }
        }
        return coldClass.ToUpperInvariant() switch
        {
            "DEEP_ARCHIVE" or "GLACIER" => "Archive",
            "GLACIER_IR" => "Cold",
            "STANDARD_IA" or "ONEZONE_IA" => "Cool",
            "STANDARD" => "Hot",
            _ => null,
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (ContainerNameProblem(Container) is { } problem)
        {
            throw new ArgumentException(problem, nameof(Container));
        }
        if (string.IsNullOrWhiteSpace(AccountName))
        {
            throw new ArgumentException("the storage account name is missing", nameof(AccountName));
        }
        if (!ServiceUri.IsAbsoluteUri || ServiceUri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"the Blob service endpoint '{ServiceUri}' is not an http(s) URL", nameof(ServiceUri));
        }
        if (!ColdTiers.Contains(ColdTier))
        {
            throw new ArgumentException($"cold tier '{ColdTier}' is not one of {string.Join(", ", ColdTiers)}", nameof(ColdTier));
        }
        if (!WarmTiers.Contains(WarmTier))
        {
            throw new ArgumentException($"warm tier '{WarmTier}' is not one of {string.Join(", ", WarmTiers)}", nameof(WarmTier));
        }
        if (Connections < 1)
        {
            throw new ArgumentException("connections must be at least 1", nameof(Connections));
        }
        if (ListPageSize is < 1 or > MaxListPage)
        {
            throw new ArgumentException($"the listing page size must be 1 to {MaxListPage}", nameof(ListPageSize));
        }
        if (BlockSize < 1 || SingleUploadLimit < 1)
        {
            throw new ArgumentException("the block size and the single-upload limit must be at least 1 byte", nameof(BlockSize));
        }
    }

    /// <summary>Azure's container naming rules, as a message, or null when the name follows them.</summary>
    public static string? ContainerNameProblem(string name)
    {
        const string rules = "a container name is 3 to 63 characters: lower-case letters, digits and single hyphens, starting and ending with a letter or digit";
        if (string.IsNullOrEmpty(name))
        {
            return "the container name is missing (" + rules + ")";
        }
        bool ok = name.Length is >= 3 and <= 63 && name[0] != '-' && name[^1] != '-' && !name.Contains("--", StringComparison.Ordinal);
        foreach (char c in name)
        {
            ok &= c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-';
        }
        return ok ? null : $"'{name}' is not a valid container name: {rules}";
    }
}
