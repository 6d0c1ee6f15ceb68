using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Repository;

/// <summary>
/// The plain (unencrypted) config object: what any client must know before it can open the keys.
/// A reader refuses a config whose <see cref="Version"/> is above <see cref="MaxSupportedVersion"/> or that
/// lists a required feature it does not know, naming both, so a future format is recognised and never misread.
/// </summary>
public sealed record RepoConfig(
    string Format,
    int Version,
    string Id,
    DateTimeOffset Created,
    ChunkerParameters Chunker,
    PackParameters Packs,
    CompressionParameters Compression,
    StorageParameters Storage,
    string[] RequiredFeatures)
{
    public const string FormatName = "strata";
    public const int MaxSupportedVersion = 1;
    public static readonly string[] KnownFeatures = [];

    public static RepoConfig CreateNew(DateTimeOffset now, long? coldPackSize = null, StorageParameters? storage = null) => new(
        FormatName,
        1,
        Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
        now,
        ChunkerParameters.Default,
        PackParameters.Default with { ColdTargetSize = coldPackSize ?? PackParameters.Default.ColdTargetSize },
        CompressionParameters.Default,
        storage ?? StorageParameters.Default,
        []);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, RepoJson.Default.RepoConfig);

    public static RepoConfig Parse(byte[] bytes, string location)
    {
        RepoConfig? c;
        try
        {
            c = JsonSerializer.Deserialize(bytes, RepoJson.Default.RepoConfig);
        }
        catch (JsonException e)
        {
            throw new RepositoryFormatException($"the config of {location} is damaged (not valid JSON: {e.Message}); it cannot be opened");
        }
        if (c is not null && c.Storage is null)
        {
            c = c with { Storage = StorageParameters.Default };
        }
        if (c is null || c.Format != FormatName || c.Chunker is null || c.Packs is null || c.Compression is null || string.IsNullOrEmpty(c.Id))
        {
            throw new RepositoryFormatException($"the config of {location} is damaged or is not a Strata repository config");
        }
        if (c.Version > MaxSupportedVersion)
        {
            throw new RepositoryFormatException($"{location} uses repository format version {c.Version}; this strata reads up to version {MaxSupportedVersion}: upgrade strata");
        }
        foreach (string f in c.RequiredFeatures ?? [])
        {
            if (Array.IndexOf(KnownFeatures, f) < 0)
            {
                throw new RepositoryFormatException($"{location} requires the format feature '{f}', which this strata does not know: upgrade strata");
            }
        }
        c.Chunker.Validate(location);
        return c;
    }
}

/// <summary>FastCDC sizes in bytes. Fixed for a repository's life, since they decide where chunks are cut.</summary>
public sealed record ChunkerParameters(string Algorithm, int MinSize, int AvgSize, int MaxSize)
{
    public static readonly ChunkerParameters Default = new("fastcdc-2020", 512 * 1024, 1024 * 1024, 8 * 1024 * 1024);

    public void Validate(string location)
    {
        if (Algorithm != "fastcdc-2020" || MinSize < 64 || AvgSize <= MinSize || MaxSize <= AvgSize || MaxSize > 64 << 20 || (AvgSize & (AvgSize - 1)) != 0)
        {
            throw new RepositoryFormatException($"the config of {location} has invalid chunker parameters ({Algorithm} {MinSize}/{AvgSize}/{MaxSize})");
        }
    }
}

/// <summary>Target pack sizes: packs are closed once they reach this many bytes.</summary>
public sealed record PackParameters(long ColdTargetSize, long WarmTargetSize)
{
    public static readonly PackParameters Default = new(128L << 20, 16L << 20);
}

/// <summary>
/// Where cold objects live on stores with storage classes: the class for data packs, and whether packs are
/// first written to the warm class and moved to the cold one only after the backup is complete and verified.
/// </summary>
/// <param name="ObjectLockDays">S3 Object Lock: every new object version is kept at least this many days (the bucket's default retention); null: none.</param>
/// <param name="ObjectLockMode">GOVERNANCE (an admin with s3:BypassGovernanceRetention may still delete) or COMPLIANCE (nobody may).</param>
public sealed record StorageParameters(string ColdClass, bool StageWarm, int? ObjectLockDays = null, string? ObjectLockMode = null)
{
    public static readonly StorageParameters Default = new("DEEP_ARCHIVE", false);

    public static readonly IReadOnlyList<string> ColdClasses = ["DEEP_ARCHIVE", "GLACIER", "GLACIER_IR", "STANDARD_IA", "ONEZONE_IA", "STANDARD"];
}

/// <summary>zstd levels per tier; a blob that does not shrink is stored raw.</summary>
public sealed record CompressionParameters(string Algorithm, int ColdLevel, int WarmLevel)
{
    public static readonly CompressionParameters Default = new("zstd", 3, 3);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RepoConfig))]
[JsonSerializable(typeof(KeyFile))]
[JsonSerializable(typeof(KeyPayload))]
internal sealed partial class RepoJson : JsonSerializerContext;
