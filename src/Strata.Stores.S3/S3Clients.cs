using Amazon;
using Amazon.Runtime;
using Amazon.S3;

namespace Strata.Stores.S3;

/// <summary>
/// Builds the SDK client for a set of <see cref="S3StoreOptions"/>, in one place, so the repository store, versioned
/// source buckets and sync targets all talk to a server the same way (path style, checksum and chunking settings that
/// compatible servers need, connection limits, credentials from the SDK's default chain).
/// </summary>
internal static class S3Clients
{
    /// <param name="location">The redacted location, for the message when no credentials are found.</param>
    public static AmazonS3Client Create(S3StoreOptions options, AWSCredentials? credentials, HttpClientFactory? httpClientFactory, string location)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            RequestChecksumCalculation = options.RequestChecksumCalculation,
            ResponseChecksumValidation = options.ResponseChecksumValidation,
            MaxConnectionsPerServer = options.Connections,
            MaxErrorRetry = options.SdkRetries,
            // Own connections per client: radosgw answers some PUT errors (403, NoSuchBucket) before reading a small body and
            // then parses that body as the next request, so one client's failure must not reach another client's requests.
            CacheHttpClient = false,
        };
        if (httpClientFactory is not null)
        {
            config.HttpClientFactory = httpClientFactory;
        }
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        try
        {
            return credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
        }
        catch (AmazonClientException e)
        {
            throw new PermanentStoreException($"cannot open {location}: {S3Store.NoCredentialsHint}", e);
        }
    }
}
