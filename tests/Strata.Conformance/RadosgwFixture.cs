using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// The radosgw that scripts/services/radosgw.sh starts on 127.0.0.1:7480, and one fresh bucket for one test class
/// (removed at the end). When the server is down, every test that needs it fails with what to run, unless
/// STRATA_SKIP_S3=1 says that is expected; then they are skipped with that reason.
/// </summary>
public sealed class RadosgwFixture : IAsyncLifetime
{
    public const string Endpoint = "http://127.0.0.1:7480";
    public static readonly AWSCredentials Credentials = new BasicAWSCredentials("TESTAK", "TESTSECRET");

    public string Bucket { get; } = "strata-conf-" + Guid.NewGuid().ToString("N")[..12];

    public AmazonS3Client Client { get; } = new(Credentials, new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>Why the server cannot be used, or null when it can.</summary>
    public string? Problem { get; private set; }

    private bool _down;

    public S3StoreOptions Options(string prefix) => S3StoreOptions.ForCompatibleServer(Endpoint, Bucket, prefix);

    public async Task InitializeAsync()
    {
        try
        {
            using var tcp = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await tcp.ConnectAsync("127.0.0.1", 7480, cts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            _down = true;
            Problem = $"radosgw is not answering on {Endpoint}: run scripts/services/radosgw.sh start (it installs what it needs), or set STRATA_SKIP_S3=1 to skip the S3 tests";
            return;
        }
        try
        {
            await using var store = new S3Store(Options(""), Credentials);
            await store.CreateBucketIfMissingAsync(CancellationToken.None);
        }
        catch (StoreException e)
        {
            Problem = $"radosgw answers on {Endpoint} but the test bucket could not be created: {e.Message}";
        }
    }

    /// <summary>Skips (STRATA_SKIP_S3=1 and the server is down) or fails (otherwise) a test that needs the server.</summary>
    public void RequireServer()
    {
        if (Problem is null)
        {
            return;
        }
        Skip.If(_down && Environment.GetEnvironmentVariable("STRATA_SKIP_S3") == "1", $"STRATA_SKIP_S3=1 and {Problem}");
        throw new InvalidOperationException(Problem);
    }

    public async Task DisposeAsync()
    {
        if (Problem is null)
        {
            try
            {
                await EmptyBucketAsync();
                await Client.DeleteBucketAsync(Bucket);
            }
            catch (AmazonServiceException)
            {
                // A leftover bucket in a throwaway server is harmless.
            }
        }
        Client.Dispose();
    }

    private async Task EmptyBucketAsync()
    {
        string? token = null;
        do
        {
            ListObjectsV2Response page = await Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, ContinuationToken = token });
            if (page.S3Objects is { Count: > 0 } objects)
            {
                await Client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = Bucket,
                    Objects = objects.Select(o => new KeyVersion { Key = o.Key }).ToList(),
                });
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        ListMultipartUploadsResponse uploads = await Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = Bucket });
        foreach (MultipartUpload u in uploads.MultipartUploads ?? [])
        {
            await Client.AbortMultipartUploadAsync(Bucket, u.Key, u.UploadId);
        }
    }
}
