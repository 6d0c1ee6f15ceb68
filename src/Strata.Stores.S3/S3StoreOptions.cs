using Amazon.Runtime;

namespace Strata.Stores.S3;

/// <summary>
/// Where and how an <see cref="S3Store"/> keeps a repository. The defaults are what AWS S3 wants; an
/// S3-compatible server (radosgw, MinIO, s3rver, ...) usually needs <see cref="ForCompatibleServer"/>'s settings.
/// Holds no credentials: those come from the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
/// AWS_SESSION_TOKEN, AWS_PROFILE, instance roles).
/// </summary>
public sealed record S3StoreOptions
{
    public const int MiB = 1024 * 1024;

    /// <summary>S3's smallest part (all but the last); also radosgw's default rgw_multipart_min_part_size.</summary>
    public const int MinPartSize = 5 * MiB;

    /// <summary>S3's largest number of parts in one multipart upload.</summary>
    public const int MaxParts = 10_000;

    /// <summary>Storage classes allowed for the cold tier (data packs).</summary>
    public static readonly IReadOnlyList<string> ColdClasses = ["DEEP_ARCHIVE", "GLACIER", "GLACIER_IR", "STANDARD_IA", "ONEZONE_IA", "STANDARD"];

    /// <summary>Storage classes allowed for the warm tier: every one of them reads at once.</summary>
    public static readonly IReadOnlyList<string> WarmClasses = ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR"];

    /// <summary>The bucket; it must exist (see <see cref="S3Store.CreateBucketIfMissingAsync"/>).</summary>
    public required string Bucket { get; init; }

    /// <summary>A folder inside the bucket ("" for the bucket's root). Stored normalized: no leading '/', one trailing '/'.</summary>
    public string Prefix { get; init; } = "";

    /// <summary>The endpoint of an S3-compatible server, e.g. "http://127.0.0.1:7480"; null for AWS itself.</summary>
    public string? ServiceUrl { get; init; }

    /// <summary>The AWS region, or the signing region of a compatible server.</summary>
    public string Region { get; init; } = "us-east-1";

    /// <summary>Address buckets as host/bucket/key instead of bucket.host/key (needed by most compatible servers).</summary>
    public bool ForcePathStyle { get; init; }

    /// <summary>
    /// When the SDK adds flexible checksums (CRC32 trailers) to uploads. AWS: WHEN_SUPPORTED. Compatible servers that do
    /// not know trailers reject the upload (radosgw: XAmzContentSHA256Mismatch) or store the framing as data (s3rver): use WHEN_REQUIRED.
    /// Uploads carry Content-MD5 either way, so the server still verifies every byte.
    /// </summary>
    public RequestChecksumCalculation RequestChecksumCalculation { get; init; } = RequestChecksumCalculation.WHEN_SUPPORTED;

    /// <summary>When the SDK validates response checksums. AWS: WHEN_SUPPORTED; compatible servers: WHEN_REQUIRED.</summary>
    public ResponseChecksumValidation ResponseChecksumValidation { get; init; } = ResponseChecksumValidation.WHEN_SUPPORTED;

    /// <summary>aws-chunked uploads (PutObject and UploadPart). AWS: true; compatible servers: false.</summary>
    public bool UseChunkEncoding { get; init; } = true;

    /// <summary>The class of cold objects (data packs).</summary>
    public string ColdStorageClass { get; init; } = "DEEP_ARCHIVE";

    /// <summary>The class of warm objects (everything else).</summary>
    public string WarmStorageClass { get; init; } = "STANDARD";

    /// <summary>Write cold objects to the warm class first; the backup moves them to the cold class once it is complete and verified.</summary>
    public bool StageWarm { get; init; }

    /// <summary>Objects larger than this go up as multipart uploads.</summary>
    public long MultipartThreshold { get; init; } = 16 * MiB;

    /// <summary>The size of each multipart part, and of the one buffer each upload holds in memory.</summary>
    public int PartSize { get; init; } = 16 * MiB;

    /// <summary>How many requests may run at once (HTTP connections per server).</summary>
    public int Connections { get; init; } = 5;

    /// <summary>
    /// The server keeps archive classes but reads them without a thaw and answers RestoreObject with 501 (radosgw).
    /// Detected on the first 501 from RestoreObject; set it to skip the detection.
    /// </summary>
    public bool ColdReadsDirectly { get; init; }

    /// <summary>Retries inside the SDK for each request; the store's retry decorator retries whole operations on top.</summary>
    public int SdkRetries { get; init; } = 2;

    /// <summary>The settings an S3-compatible server needs (path style, no flexible checksums, no aws-chunked bodies).</summary>
    public static S3StoreOptions ForCompatibleServer(string serviceUrl, string bucket, string prefix = "") => new()
    {
        ServiceUrl = serviceUrl,
        Bucket = bucket,
        Prefix = prefix,
        ForcePathStyle = true,
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        UseChunkEncoding = false,
    };

    /// <summary>The prefix as keys use it: "" or "a/b/".</summary>
    public string NormalizedPrefix
    {
        get
        {
            string p = Prefix.Trim('/');
            return p.Length == 0 ? "" : p + "/";
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Bucket) || Bucket.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{Bucket}' is not a valid bucket name", nameof(Bucket));
        }
        if (!ColdClasses.Contains(ColdStorageClass))
        {
            throw new ArgumentException($"cold storage class '{ColdStorageClass}' is not one of {string.Join(", ", ColdClasses)}", nameof(ColdStorageClass));
        }
        if (!WarmClasses.Contains(WarmStorageClass))
        {
            throw new ArgumentException($"warm storage class '{WarmStorageClass}' is not one of {string.Join(", ", WarmClasses)}", nameof(WarmStorageClass));
        }
        if (PartSize < MinPartSize)
        {
            throw new ArgumentException($"part size {PartSize} is below S3's minimum of {MinPartSize} bytes", nameof(PartSize));
        }
        if (MultipartThreshold < 0)
        {
            throw new ArgumentException("the multipart threshold cannot be negative", nameof(MultipartThreshold));
        }
        if (MultipartThreshold > Array.MaxLength)
        {
            throw new ArgumentException($"the multipart threshold cannot exceed {Array.MaxLength} bytes (one buffer)", nameof(MultipartThreshold));
        }
        if (Connections < 1)
        {
            throw new ArgumentException("connections must be at least 1", nameof(Connections));
        }
        if (ServiceUrl is not null && !Uri.TryCreate(ServiceUrl, UriKind.Absolute, out _))
        {
            throw new ArgumentException("the service URL is not an absolute URL", nameof(ServiceUrl));
        }
    }
}
