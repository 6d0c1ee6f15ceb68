using Amazon.Runtime;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>What the S3 store decides without a server: URLs, options, locations, thaw states.</summary>
public sealed class S3StoreUnitTests
{
    private static readonly AWSCredentials Keys = new BasicAWSCredentials("AKEXAMPLE", "SECRET-EXAMPLE-9c1");

    [Fact]
    public void ParseUrl_CompatibleServerWithPrefix()
    {
        S3StoreOptions o = S3Store.ParseUrl("s3:https://minio.example.org/backups/host1/daily");
        Assert.Equal("https://minio.example.org", o.ServiceUrl);
        Assert.Equal("backups", o.Bucket);
        Assert.Equal("host1/daily", o.Prefix);
        Assert.True(o.ForcePathStyle);
        Assert.Equal(RequestChecksumCalculation.WHEN_REQUIRED, o.RequestChecksumCalculation);
        Assert.Equal(ResponseChecksumValidation.WHEN_REQUIRED, o.ResponseChecksumValidation);
        Assert.False(o.UseChunkEncoding);
    }

    [Fact]
    public void ParseUrl_LoopbackWithPortAndNoPrefix()
    {
        S3StoreOptions o = S3Store.ParseUrl("s3:http://127.0.0.1:7480/bucket");
        Assert.Equal("http://127.0.0.1:7480", o.ServiceUrl);
        Assert.Equal("bucket", o.Bucket);
        Assert.Equal("", o.Prefix);
        Assert.Equal("", o.NormalizedPrefix);
    }

    [Fact]
    public void ParseUrl_AwsHostsGiveAwsDefaults()
    {
        S3StoreOptions o = S3Store.ParseUrl("s3:s3.amazonaws.com/bucket/prefix");
        Assert.Null(o.ServiceUrl);
        Assert.Equal("bucket", o.Bucket);
        Assert.Equal("prefix", o.Prefix);
        Assert.Equal("prefix/", o.NormalizedPrefix);
        Assert.False(o.ForcePathStyle);
        Assert.True(o.UseChunkEncoding);
        Assert.Equal(RequestChecksumCalculation.WHEN_SUPPORTED, o.RequestChecksumCalculation);
        Assert.Equal("DEEP_ARCHIVE", o.ColdStorageClass);
        Assert.Equal("STANDARD", o.WarmStorageClass);
        Assert.Equal(16 * 1024 * 1024, o.PartSize);

        Assert.Equal("eu-west-1", S3Store.ParseUrl("s3:s3.eu-west-1.amazonaws.com/b").Region);
        Assert.Equal("eu-central-1", S3Store.ParseUrl("s3:https://s3.eu-central-1.amazonaws.com/b/p").Region);
        Assert.Null(S3Store.ParseUrl("s3:https://s3.eu-central-1.amazonaws.com/b/p").ServiceUrl);
        Assert.Equal("ap-south-1", S3Store.ParseUrl("s3:s3-ap-south-1.amazonaws.com/b").Region);
    }

    [Theory]
    [InlineData("b2:bucket/x")]
    [InlineData("s3:")]
    [InlineData("s3:https://host.example")]
    [InlineData("s3:https://host.example/")]
    [InlineData("s3://bucket/prefix")]
    public void ParseUrl_RefusesWhatItCannotUse(string url)
    {
        Assert.Throws<ArgumentException>(() => S3Store.ParseUrl(url));
    }

    [Fact]
    public void ParseUrl_RefusesCredentialsInTheUrlWithoutRepeatingThem()
    {
        var e = Assert.Throws<ArgumentException>(() => S3Store.ParseUrl("s3:https://AKID:SECRET-IN-URL@host.example/bucket"));
        Assert.DoesNotContain("SECRET-IN-URL", e.Message, StringComparison.Ordinal);
        Assert.Contains("AWS_ACCESS_KEY_ID", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Location_NamesEndpointBucketAndPrefix_AndNoSecret()
    {
        await using var local = new S3Store(S3StoreOptions.ForCompatibleServer("http://user:SECRET-IN-URL@127.0.0.1:7480", "b", "/p/q/"), Keys);
        Assert.Equal("s3:http://127.0.0.1:7480/b/p/q", local.Location);
        await using var aws = new S3Store(new S3StoreOptions { Bucket = "b", Region = "eu-west-1" }, Keys);
        Assert.Equal("s3:s3.eu-west-1.amazonaws.com/b", aws.Location);
        foreach (S3Store s in new[] { local, aws })
        {
            Assert.DoesNotContain("SECRET", s.Location, StringComparison.Ordinal);
            Assert.DoesNotContain("AKEXAMPLE", s.Location, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Properties_FollowTheColdClass()
    {
        await using var deep = new S3Store(new S3StoreOptions { Bucket = "b" }, Keys);
        Assert.True(deep.Properties.HasColdTier);
        Assert.False(deep.Properties.ColdReadsDirectly);
        Assert.Equal(5, deep.Properties.Connections);
        await using var ia = new S3Store(new S3StoreOptions { Bucket = "b", ColdStorageClass = "STANDARD_IA", Connections = 12 }, Keys);
        Assert.False(ia.Properties.HasColdTier);
        Assert.Equal(12, ia.Properties.Connections);
    }

    [Theory]
    [InlineData("FROZEN_SOLID", "STANDARD", 16)]
    [InlineData("DEEP_ARCHIVE", "GLACIER", 16)]
    [InlineData("DEEP_ARCHIVE", "STANDARD", 4)]
    public void Options_AreValidated(string cold, string warm, int partMiB)
    {
        var o = new S3StoreOptions { Bucket = "b", ColdStorageClass = cold, WarmStorageClass = warm, PartSize = partMiB * 1024 * 1024 };
        Assert.Throws<ArgumentException>(o.Validate);
    }

    [Fact]
    public async Task MissingCredentials_AreAPermanentErrorThatSaysWhereToPutThem()
    {
        await using var store = new S3Store(new S3StoreOptions { Bucket = "b" }, Keys);
        var sdk = new AmazonClientException("Failed to resolve AWS credentials. The credential providers used to search for credentials returned the following errors:\nException 1 of 4: ...");
        StoreException e = store.Classify(sdk, "reading", new ObjectName(ObjectKind.Index, "ab"));
        Assert.IsType<PermanentStoreException>(e);
        Assert.Equal("reading index/ab in s3:s3.amazonaws.com/b: no AWS credentials found: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or AWS_PROFILE", e.Message);
    }

    [Fact]
    public void ThawStatus_FollowsStorageClassAndRestoreHeader()
    {
        var expiry = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(ThawState.Readable, S3Store.StatusFrom("STANDARD", null, null, false).State);
        Assert.Equal(ThawState.Readable, S3Store.StatusFrom("GLACIER_IR", null, null, false).State);
        Assert.Equal(ThawState.Frozen, S3Store.StatusFrom("DEEP_ARCHIVE", null, null, false).State);
        Assert.Equal(ThawState.Frozen, S3Store.StatusFrom("GLACIER", false, null, false).State);
        Assert.Equal(ThawState.Thawing, S3Store.StatusFrom("DEEP_ARCHIVE", true, null, false).State);
        ThawStatus thawed = S3Store.StatusFrom("DEEP_ARCHIVE", false, expiry, false);
        Assert.Equal(ThawState.Thawed, thawed.State);
        Assert.Equal(new DateTimeOffset(expiry), thawed.ExpiresAt);
        Assert.Equal(ThawState.Readable, S3Store.StatusFrom("DEEP_ARCHIVE", null, null, coldReadsDirectly: true).State);
    }
}
