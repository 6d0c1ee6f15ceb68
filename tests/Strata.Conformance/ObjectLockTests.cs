using Amazon.S3;
using Amazon.S3.Model;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// init --object-lock's bucket setup on radosgw: a new bucket is created with Object Lock and a default retention, so
/// every object Strata writes is locked: deleting its version is refused (a plain delete only adds a delete marker and
/// the version stays). GOVERNANCE lets an admin bypass it on purpose, COMPLIANCE lets nobody. An existing bucket
/// without Object Lock is refused with a message saying what to do. The locked buckets are left behind (they cannot
/// be emptied before the retention ends); radosgw's memstore forgets them at its next start.
/// </summary>
public sealed class ObjectLockTests(RadosgwFixture rgw) : IClassFixture<RadosgwFixture>
{
    private static string NewBucket() => "strata-lock-" + Guid.NewGuid().ToString("N")[..12];

    private static S3Store Store(string bucket) => new(S3StoreOptions.ForCompatibleServer(RadosgwFixture.Endpoint, bucket, "repo/"), RadosgwFixture.Credentials);

    private static async Task<string> WriteAsync(S3Store store, string hexName)
    {
        var name = new ObjectName(ObjectKind.Index, hexName);
        using var ms = new MemoryStream("locked bytes"u8.ToArray());
        await store.WriteAsync(name, ms, CancellationToken.None);
        return "repo/" + name.Path;
    }

    private async Task<string> VersionOfAsync(string bucket, string key)
    {
        var versions = await rgw.Client.ListVersionsAsync(new ListVersionsRequest { BucketName = bucket, Prefix = key });
        return Assert.Single(versions.Versions ?? [], v => !v.IsDeleteMarker.GetValueOrDefault()).VersionId;
    }

    [SkippableTheory]
    [InlineData("GOVERNANCE")]
    [InlineData("COMPLIANCE")]
    public async Task Every_new_object_is_locked_and_its_version_cannot_be_deleted(string mode)
    {
        rgw.RequireServer();
        string bucket = NewBucket();
        await using S3Store store = Store(bucket);
        await store.EnableObjectLockAsync(mode, 2, CancellationToken.None);
        Assert.Equal((mode, 2), await store.GetDefaultRetentionAsync(CancellationToken.None));

        string key = await WriteAsync(store, new string('a', 64));
        string version = await VersionOfAsync(bucket, key);
        var retention = await rgw.Client.GetObjectRetentionAsync(new GetObjectRetentionRequest { BucketName = bucket, Key = key, VersionId = version });
        Assert.Equal(mode, retention.Retention.Mode.Value);
        Assert.InRange(retention.Retention.RetainUntilDate!.Value, DateTime.UtcNow.AddDays(2).AddHours(-1), DateTime.UtcNow.AddDays(2).AddHours(1));

        var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => rgw.Client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key, VersionId = version }));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);

        // A delete without a version only hides the object behind a delete marker: the locked bytes stay.
        await rgw.Client.DeleteObjectAsync(bucket, key);
        Assert.Equal(version, await VersionOfAsync(bucket, key));
        var got = await rgw.Client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key, VersionId = version });
        using (var reader = new StreamReader(got.ResponseStream))
        {
            Assert.Equal("locked bytes", await reader.ReadToEndAsync());
        }

        // The difference between the modes: GOVERNANCE yields to an admin who asks to bypass it, COMPLIANCE to nobody.
        var bypass = new DeleteObjectRequest { BucketName = bucket, Key = key, VersionId = version, BypassGovernanceRetention = true };
        if (mode == "GOVERNANCE")
        {
            await rgw.Client.DeleteObjectAsync(bypass);
            var after = await rgw.Client.ListVersionsAsync(new ListVersionsRequest { BucketName = bucket, Prefix = key });
            Assert.DoesNotContain(after.Versions ?? [], v => v.VersionId == version);
        }
        else
        {
            var still = await Assert.ThrowsAsync<AmazonS3Exception>(() => rgw.Client.DeleteObjectAsync(bypass));
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, still.StatusCode);
        }
    }

    [SkippableFact]
    public async Task A_bucket_created_without_Object_Lock_is_refused_with_advice()
    {
        rgw.RequireServer();
        string bucket = NewBucket();
        await using S3Store store = Store(bucket);
        await store.CreateBucketIfMissingAsync(CancellationToken.None);
        var e = await Assert.ThrowsAsync<ObjectLockUnavailableException>(() => store.EnableObjectLockAsync("GOVERNANCE", 1, CancellationToken.None));
        Assert.Contains($"bucket {bucket}", e.Message, StringComparison.Ordinal);
        Assert.Contains("new bucket name", e.Message, StringComparison.Ordinal);
        Assert.Null(await store.GetDefaultRetentionAsync(CancellationToken.None));
        await rgw.Client.DeleteBucketAsync(bucket);
    }
}
