using System.Text.Json;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Locks;
using Strata.Repository;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// strata s3 policy: the JSON names the right actions and resources, and on radosgw the writer policy (applied as a
/// bucket policy for a second user who owns nothing) lets a writer back up, take and remove locks, and nothing more:
/// no reading of data or tree packs, no deleting, no overwriting.
/// </summary>
public sealed class S3PolicyTests(RadosgwFixture rgw) : IClassFixture<RadosgwFixture>, IDisposable
{
    private static readonly AWSCredentials WriterCredentials = new BasicAWSCredentials("TESTWRITER", "TESTWRITERSECRET");
    private readonly string _dir = Directory.CreateTempSubdirectory("strata-policy-").FullName;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));

    private CancellationToken Ct => _timeout.Token;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        _timeout.Dispose();
    }

    private static JsonArray Statements(string json) => JsonNode.Parse(json)!["Statement"]!.AsArray();

    private static JsonNode Sid(string json, string sid) => Statements(json).Single(s => (string)s!["Sid"]! == sid)!;

    private static string[] Strings(JsonNode node, string key) => node[key]!.AsArray().Select(n => (string)n!).ToArray();

    [Fact]
    public void The_writer_policy_creates_everywhere_a_backup_writes_reads_only_warm_metadata_and_deletes_only_locks()
    {
        string json = S3Policy.Render(S3PolicyRole.Writer, "my-bucket", "/nas/");
        Assert.Equal("2012-10-17", (string)JsonNode.Parse(json)!["Version"]!);
        var actions = Statements(json).SelectMany(s => Strings(s!, "Action")).ToHashSet();
        Assert.Equal(["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"], actions.Order());

        var list = Sid(json, "ListRepository");
        Assert.Equal(["arn:aws:s3:::my-bucket"], Strings(list, "Resource"));
        Assert.Equal(["nas/", "nas/*"], list["Condition"]!["StringLike"]!["s3:prefix"]!.AsArray().Select(n => (string)n!));

        string[] put = Strings(Sid(json, "CreateNewObjects"), "Resource");
        Assert.Contains("arn:aws:s3:::my-bucket/nas/data/*", put);
        Assert.Contains("arn:aws:s3:::my-bucket/nas/locks/*", put);
        Assert.DoesNotContain(put, r => r.Contains("/keys/", StringComparison.Ordinal) || r.EndsWith("/config", StringComparison.Ordinal));

        string[] get = Strings(Sid(json, "ReadWarmMetadataOnly"), "Resource");
        Assert.Contains("arn:aws:s3:::my-bucket/nas/config", get);
        Assert.Contains("arn:aws:s3:::my-bucket/nas/index/*", get);
        // Exactly the warm kinds a writer reads; never a cold one, and never the tree packs.
        foreach (string r in get)
        {
            string folder = r["arn:aws:s3:::my-bucket/nas/".Length..].Split('/')[0];
            ObjectKind kind = folder == "config" ? ObjectKind.Config : ObjectKinds.FromFolder(folder)!.Value;
            Assert.Equal(Tier.Warm, ObjectKinds.TierOf(kind));
            Assert.NotEqual(ObjectKind.Tree, kind);
        }
        Assert.Equal(["arn:aws:s3:::my-bucket/nas/locks/*"], Strings(Sid(json, "RemoveLocksOnly"), "Resource"));
        Assert.All(Statements(json), s => Assert.Equal("Allow", (string)s!["Effect"]!));
    }

    [Fact]
    public void The_admin_policy_allows_everything_on_the_prefix_or_the_whole_bucket()
    {
        string prefixed = S3Policy.Render(S3PolicyRole.Admin, "my-bucket", "nas");
        Assert.Equal(["arn:aws:s3:::my-bucket/nas/*"], Strings(Sid(prefixed, "EverythingUnderThePrefix"), "Resource"));
        Assert.Equal(["s3:*"], Strings(Sid(prefixed, "EverythingUnderThePrefix"), "Action"));
        Assert.Contains("s3:ListBucketVersions", Strings(Sid(prefixed, "BucketLevel"), "Action"));
        string whole = S3Policy.Render(S3PolicyRole.Admin, "my-bucket", "");
        Assert.Equal(["arn:aws:s3:::my-bucket", "arn:aws:s3:::my-bucket/*"], Strings(Sid(whole, "EverythingOnTheBucket"), "Resource"));
        Assert.Throws<ArgumentException>(() => S3Policy.Render(S3PolicyRole.Admin, "My_Bucket", ""));
        Assert.Throws<ArgumentException>(() => S3Policy.Render(S3PolicyRole.Writer, "my-bucket", "nas/*"));
    }

    [SkippableFact]
    public async Task On_radosgw_a_writer_under_the_policy_backs_up_but_cannot_read_packs_delete_or_overwrite()
    {
        rgw.RequireServer();
        string bucket = "strata-policy-" + Guid.NewGuid().ToString("N")[..10];
        const string prefix = "nas/";
        await using (var owner = new S3Store(S3StoreOptions.ForCompatibleServer(RadosgwFixture.Endpoint, bucket, prefix), RadosgwFixture.Credentials))
        {
            await owner.CreateBucketIfMissingAsync(Ct);
        }
        // The identity policy becomes a bucket policy by naming the user it is for.
        var policy = JsonNode.Parse(S3Policy.Render(S3PolicyRole.Writer, bucket, prefix))!;
        foreach (JsonNode? s in policy["Statement"]!.AsArray())
        {
            s!["Principal"] = new JsonObject { ["AWS"] = new JsonArray("arn:aws:iam:::user/policy-writer") };
        }
        await rgw.Client.PutBucketPolicyAsync(new PutBucketPolicyRequest { BucketName = bucket, Policy = policy.ToJsonString() }, Ct);
        try
        {
            await RunAsWriterAsync(bucket, prefix);
        }
        finally
        {
            await EmptyAndDeleteAsync(bucket);
        }
    }

    private async Task RunAsWriterAsync(string bucket, string prefix)
    {
        S3StoreOptions options = S3StoreOptions.ForCompatibleServer(RadosgwFixture.Endpoint, bucket, prefix) with { ColdStorageClass = "DEEP_ARCHIVE", ColdReadsDirectly = true };
        MasterKeys keys = MasterKeys.CreateNew();
        // The owner's own machine backs up first: those packs belong to the owner, and another machine's writer must not read them.
        string ownerSrc = Path.Combine(_dir, "owner-src");
        Directory.CreateDirectory(ownerSrc);
        File.WriteAllBytes(Path.Combine(ownerSrc, "private.bin"), RandomNumberGeneratorBytes(900_000));
        var ownerStore = new S3Store(options, RadosgwFixture.Credentials);
        await using (Repo init = await Repo.InitAsync(ownerStore, "owner pw", RepoConfig.CreateNew(DateTimeOffset.UtcNow, 1 << 20), keys, TimeProvider.System, Ct))
        {
            KeyFile writerKey = KeyFile.Create(keys.WriterOnly(), KeyRole.Writer, "writer pw", "t", "t", DateTimeOffset.UtcNow, memoryKib: 8192, passes: 1);
            await init.WriteObjectAsync(ObjectKind.Keys, writerKey.ToBytes(), Ct);
            await init.LoadIndexAsync(Ct);
            await new Archiver.Archiver(init, new BackupOptions { Paths = [ownerSrc], Workers = 2, Host = "owner" }, new BackupProgress(), new ParentTrees(init, Path.Combine(_dir, "owner-cache"))).RunAsync(Ct);
        }
        await using var ownerView = new S3Store(options, RadosgwFixture.Credentials);
        ObjectInfo ownersPack = await FirstAsync(ownerView, ObjectKind.Data);
        ObjectInfo ownersTree = await FirstAsync(ownerView, ObjectKind.Tree);

        string src = Path.Combine(_dir, "src");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "a.bin"), RandomNumberGeneratorBytes(1_500_000));
        File.WriteAllText(Path.Combine(src, "b.txt"), "writer's file\n");

        var writerStore = new S3Store(options, WriterCredentials);
        await using Repo repo = await Repo.OpenAsync(writerStore, "writer pw", TimeProvider.System, Ct);
        Assert.False(repo.Keys.CanRead);
        await using (RepoLock held = await RepoLock.AcquireAsync(repo, LockMode.Host, TimeSpan.Zero, Ct))
        {
            await repo.LoadIndexAsync(Ct);
            var archiver = new Archiver.Archiver(repo, new BackupOptions { Paths = [src], Workers = 2 }, new BackupProgress(), new ParentTrees(repo, Path.Combine(_dir, "cache")));
            await archiver.RunAsync(Ct);
        }
        // The lock was removed again: the only delete the policy allows.
        await foreach (var _ in writerStore.ListAsync(ObjectKind.Locks, Ct))
        {
            Assert.Fail("the writer's lock was left behind");
        }

        ObjectInfo index = await FirstAsync(writerStore, ObjectKind.Index);
        ObjectInfo pack = ownersPack;
        await AssertDeniedAsync(() => writerStore.ReadAsync(ownersPack.Name, 0, new byte[16], Ct));
        await AssertDeniedAsync(() => writerStore.ReadAsync(ownersTree.Name, 0, new byte[16], Ct));
        await writerStore.ReadAsync(index.Name, 0, new byte[16], Ct);

        using var writerClient = new AmazonS3Client(WriterCredentials, new AmazonS3Config { ServiceURL = RadosgwFixture.Endpoint, ForcePathStyle = true });
        foreach (ObjectInfo o in new[] { pack, index })
        {
            var e = await Assert.ThrowsAsync<AmazonS3Exception>(() => writerClient.DeleteObjectAsync(bucket, prefix + o.Name.Path, Ct));
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, e.StatusCode);
        }
        await AssertDeniedAsync(() => PutAsync(writerStore, ObjectName.Config, "{}"u8.ToArray()));
        await AssertDeniedAsync(() => PutAsync(writerStore, new ObjectName(ObjectKind.Keys, new string('a', 64)), "{}"u8.ToArray()));
        // An overwrite of an existing object is refused (create-only write), and the object is unchanged.
        await Assert.ThrowsAsync<ObjectExistsException>(() => PutAsync(writerStore, index.Name, "not the index"u8.ToArray()));
        Assert.Equal(index.Length, (await writerStore.StatAsync(index.Name, Ct))!.Length);
        Assert.Equal(2, await CountAsync(writerStore, ObjectKind.Snapshots));
    }

    private static byte[] RandomNumberGeneratorBytes(int n) => System.Security.Cryptography.RandomNumberGenerator.GetBytes(n);

    private async Task PutAsync(IStore store, ObjectName name, byte[] bytes)
    {
        using var ms = new MemoryStream(bytes);
        await store.WriteAsync(name, ms, Ct);
    }

    private static async Task AssertDeniedAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<PermanentStoreException>(action);
        Assert.Contains("denied", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<ObjectInfo> FirstAsync(IStore store, ObjectKind kind)
    {
        await foreach (ObjectInfo o in store.ListAsync(kind, Ct))
        {
            return o;
        }
        throw new InvalidOperationException($"no {kind} object");
    }

    private async Task<int> CountAsync(IStore store, ObjectKind kind)
    {
        int n = 0;
        await foreach (var _ in store.ListAsync(kind, Ct))
        {
            n++;
        }
        return n;
    }

    private async Task EmptyAndDeleteAsync(string bucket)
    {
        await rgw.Client.DeleteBucketPolicyAsync(bucket, Ct);
        var listed = await rgw.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket }, Ct);
        foreach (S3Object o in listed.S3Objects ?? [])
        {
            await rgw.Client.DeleteObjectAsync(bucket, o.Key, Ct);
        }
        await rgw.Client.DeleteBucketAsync(bucket, Ct);
    }
}
