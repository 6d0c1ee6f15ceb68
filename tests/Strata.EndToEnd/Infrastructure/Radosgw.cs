using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>
/// The radosgw of scripts/services/radosgw.sh (127.0.0.1:7480, TESTAK/TESTSECRET), driven directly with the AWS SDK
/// to set up and inspect buckets around CLI runs. One fresh bucket per instance, emptied of every version and removed
/// on dispose. Tests fail when the server is down, unless STRATA_SKIP_S3=1 says that is expected.
/// </summary>
internal sealed class Radosgw : IAsyncDisposable
{
    public const string Endpoint = "http://127.0.0.1:7480";

    public Radosgw(string name)
    {
        Bucket = $"strata-{name}-{Guid.NewGuid():N}"[..40];
        Client = new AmazonS3Client(new BasicAWSCredentials("TESTAK", "TESTSECRET"), new AmazonS3Config
        {
            ServiceURL = Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
    }

    public string Bucket { get; }
    public AmazonS3Client Client { get; }
    public string Location => $"s3:{Endpoint}/{Bucket}";

    public static bool Up()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", 7480);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Skips (STRATA_SKIP_S3=1 and radosgw down) or fails (radosgw down) before a test that needs the server.</summary>
    public static void Require()
    {
        bool up = Up();
        Skip.If(!up && Environment.GetEnvironmentVariable("STRATA_SKIP_S3") == "1", "STRATA_SKIP_S3=1 and radosgw is not running");
        Assert.True(up, "radosgw is not answering on 127.0.0.1:7480: run scripts/services/radosgw.sh start (or set STRATA_SKIP_S3=1)");
    }

    public static Dictionary<string, string?> WithCredentials(Dictionary<string, string?> env)
    {
        env["AWS_ACCESS_KEY_ID"] = "TESTAK";
        env["AWS_SECRET_ACCESS_KEY"] = "TESTSECRET";
        return env;
    }

    public Task CreateBucketAsync() => Client.PutBucketAsync(new PutBucketRequest { BucketName = Bucket });

    public Task EnableVersioningAsync() => Client.PutBucketVersioningAsync(new PutBucketVersioningRequest
    {
        BucketName = Bucket,
        VersioningConfig = new S3BucketVersioningConfig { Status = VersionStatus.Enabled },
    });

    /// <summary>Puts an object and returns its new version id ("null" when versioning is off).</summary>
    public async Task<string> PutAsync(string key, byte[] content)
    {
        using var ms = new MemoryStream(content);
        PutObjectResponse r = await Client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = key, InputStream = ms, UseChunkEncoding = false });
        return r.VersionId ?? "null";
    }

    public Task<string> PutAsync(string key, string content) => PutAsync(key, System.Text.Encoding.UTF8.GetBytes(content));

    public Task DeleteAsync(string key) => Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key });

    public Task DeleteVersionAsync(string key, string versionId) => Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key, VersionId = versionId });

    /// <summary>Every version and delete marker (key, version id, is latest, is delete marker).</summary>
    public async Task<List<(string Key, string VersionId, bool Latest, bool Marker)>> VersionsAsync()
    {
        var list = new List<(string, string, bool, bool)>();
        string? key = null, version = null;
        while (true)
        {
            ListVersionsResponse page = await Client.ListVersionsAsync(new ListVersionsRequest { BucketName = Bucket, KeyMarker = key, VersionIdMarker = version });
            foreach (S3ObjectVersion v in page.Versions ?? [])
            {
                list.Add((v.Key, v.VersionId, v.IsLatest ?? false, v.IsDeleteMarker ?? false));
            }
            if (page.IsTruncated != true)
            {
                return list;
            }
            key = page.NextKeyMarker;
            version = page.NextVersionIdMarker;
        }
    }

    /// <summary>The bucket's current content: every key that exists now with its bytes.</summary>
    public async Task<SortedDictionary<string, byte[]>> ContentAsync(string prefix = "")
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            ListObjectsV2Response page = await Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        var result = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (k, ct) =>
        {
            using GetObjectResponse r = await Client.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = k }, ct);
            using var ms = new MemoryStream();
            await r.ResponseStream.CopyToAsync(ms, ct);
            lock (result)
            {
                result[k] = ms.ToArray();
            }
        });
        return result;
    }

    public static void AssertSameContent(SortedDictionary<string, byte[]> expected, SortedDictionary<string, byte[]> actual)
    {
        Assert.Equal(expected.Keys.ToList(), actual.Keys.ToList());
        foreach (var (k, v) in expected)
        {
            Assert.True(v.AsSpan().SequenceEqual(actual[k]), $"the content of {k} differs");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            var versions = await VersionsAsync();
            foreach (var chunk in versions.Chunk(500))
            {
                await Client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = Bucket,
                    Objects = chunk.Select(v => new KeyVersion { Key = v.Key, VersionId = v.VersionId }).ToList(),
                });
            }
            await Client.DeleteBucketAsync(Bucket);
        }
        catch (AmazonServiceException)
        {
            // a leftover bucket in a throwaway server is harmless
        }
        Client.Dispose();
    }
}
