using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Strata.Stores;
using Strata.Stores.S3;

namespace Strata.Conformance;

/// <summary>
/// The S3 store against a real radosgw on loopback (scripts/services/radosgw.sh): the whole conformance suite, with a
/// listing past one page, plus what only S3 has: storage classes, RestoreObject, credentials, buckets, multipart uploads.
/// Each test uses its own prefix in the class's bucket.
/// </summary>
public sealed class S3StoreConformanceTests(RadosgwFixture rgw) : StoreConformanceTests, IClassFixture<RadosgwFixture>
{
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..12] + "/";

    /// <summary>Past S3's page of 1,000 keys, so the listing must follow continuation tokens.</summary>
    protected override int ManyObjects => 1010;

    protected override Task<IStore> CreateStoreAsync() => Task.FromResult<IStore>(Open());

    private S3Store Open(S3StoreOptions? options = null, AWSCredentials? credentials = null)
    {
        rgw.RequireServer();
        return new S3Store(options ?? rgw.Options(_prefix), credentials ?? RadosgwFixture.Credentials);
    }

    private async Task<S3Store> S3Async() => (S3Store)await StoreAsync();

    private string KeyOf(ObjectName name) => _prefix + name.Path;

    protected override async Task PlantForeignObjectAsync(string path, byte[] content)
    {
        using var body = new MemoryStream(content);
        await rgw.Client.PutObjectAsync(new PutObjectRequest { BucketName = rgw.Bucket, Key = _prefix + path, InputStream = body, UseChunkEncoding = false }, Ct);
    }

    private async Task<int> PendingUploadsAsync()
    {
        ListMultipartUploadsResponse uploads = await rgw.Client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = rgw.Bucket, Prefix = _prefix }, Ct);
        return uploads.MultipartUploads?.Count ?? 0;
    }

    private async Task<int> VisibleKeysAsync()
    {
        ListObjectsV2Response page = await rgw.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = rgw.Bucket, Prefix = _prefix }, Ct);
        return page.S3Objects?.Count ?? 0;
    }

    [SkippableFact]
    public async Task DataObjects_GoToDeepArchive_AndWarmObjectsToStandard()
    {
        S3Store store = await S3Async();
        ObjectName data = RandomName(ObjectKind.Data);
        ObjectName index = RandomName(ObjectKind.Index);
        await WriteAsync(store, data, RandomBytes(1000, 31));
        await WriteAsync(store, index, RandomBytes(1000, 32));

        GetObjectMetadataResponse dataHead = await rgw.Client.GetObjectMetadataAsync(rgw.Bucket, KeyOf(data), Ct);
        GetObjectMetadataResponse indexHead = await rgw.Client.GetObjectMetadataAsync(rgw.Bucket, KeyOf(index), Ct);
        Assert.Equal("DEEP_ARCHIVE", dataHead.StorageClass?.Value);
        Assert.Contains(indexHead.StorageClass?.Value ?? "", new[] { "", "STANDARD" });

        ListObjectsV2Response listed = await rgw.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = rgw.Bucket, Prefix = _prefix }, Ct);
        Assert.Equal("DEEP_ARCHIVE", listed.S3Objects.Single(o => o.Key == KeyOf(data)).StorageClass?.Value);
        Assert.Equal("STANDARD", listed.S3Objects.Single(o => o.Key == KeyOf(index)).StorageClass?.Value);

        Assert.Equal("DEEP_ARCHIVE", (await store.StatAsync(data, Ct))?.StorageClass);
        Assert.Equal("STANDARD", (await store.StatAsync(index, Ct))?.StorageClass);
        Assert.Equal("DEEP_ARCHIVE", (await ListAllAsync(store, ObjectKind.Data)).Single().StorageClass);
        Assert.Equal("STANDARD", (await ListAllAsync(store, ObjectKind.Index)).Single().StorageClass);
    }

    [SkippableFact]
    public async Task ColdStorageClass_IsAnOption()
    {
        S3Store store = Open(rgw.Options(_prefix) with { ColdStorageClass = "GLACIER" });
        await using (store)
        {
            ObjectName data = RandomName(ObjectKind.Data);
            await WriteAsync(store, data, [1, 2, 3]);
            Assert.Equal("GLACIER", (await store.StatAsync(data, Ct))?.StorageClass);
        }
    }

    [SkippableFact]
    public async Task RequestThaw_OnRadosgw_Answers501_SoArchivedObjectsAreReadDirectly()
    {
        S3Store store = await S3Async();
        ObjectName data = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(5000, 33);
        await WriteAsync(store, data, content);

        Assert.False(store.ColdReadsDirectly);
        Assert.True(store.Properties.HasColdTier);
        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(data, Ct)).State);

        int detected = 0;
        store.ColdReadsDirectlyDetected += (_, _) => Interlocked.Increment(ref detected);
        await store.RequestThawAsync(data, new ThawRequest(ThawTier.Bulk, 1), Ct);
        Assert.True(store.ColdReadsDirectly);
        Assert.True(store.Properties.ColdReadsDirectly);
        Assert.Equal(1, detected);

        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(data, Ct)).State);
        byte[] got = new byte[content.Length];
        await store.ReadAsync(data, 0, got, Ct);
        Assert.Equal(content, got);

        await store.RequestThawAsync(data, new ThawRequest(ThawTier.Expedited, 1), Ct);
        Assert.Equal(1, detected);
    }

    [SkippableFact]
    public async Task ColdReadsDirectly_CanBeSetUpFront()
    {
        await using S3Store store = Open(rgw.Options(_prefix) with { ColdReadsDirectly = true });
        ObjectName data = RandomName(ObjectKind.Data);
        await WriteAsync(store, data, [1]);
        Assert.True(store.Properties.ColdReadsDirectly);
        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(data, Ct)).State);
    }

    [SkippableFact]
    public async Task WrongCredentials_GiveAClearPermanentError()
    {
        string expected = $"access denied to {rgw.Bucket} at {RadosgwFixture.Endpoint}: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY";
        foreach (var credentials in new[] { new BasicAWSCredentials("TESTAK", "WRONG-SECRET-5f2a"), new BasicAWSCredentials("NOSUCHKEY", "WRONG-SECRET-5f2a") })
        {
            // Through the retry decorator, as the program uses it: radosgw answers a refused PUT before reading its body and
            // then reads that body as a request, so the next request on that connection may get a bare 400 (transient).
            await using IStore store = new RetryingStore(Open(credentials: credentials), FastRetries());
            ObjectName name = RandomName(ObjectKind.Index);
            var errors = new[]
            {
                await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, name, [1])),
                await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, 0, new byte[1], Ct)),
                await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(name, Ct)),
                await Assert.ThrowsAsync<PermanentStoreException>(() => ListAllAsync(store, ObjectKind.Index)),
            };
            foreach (PermanentStoreException e in errors)
            {
                Assert.Equal(expected, e.Message);
                Assert.DoesNotContain("WRONG-SECRET", e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain("   at ", e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain('\n', e.Message);
            }
        }
    }

    [SkippableFact]
    public async Task AMissingBucket_GivesAClearPermanentError()
    {
        string bucket = "strata-missing-" + Guid.NewGuid().ToString("N")[..10];
        // Through the retry decorator, for the reason given in WrongCredentials_GiveAClearPermanentError.
        await using IStore store = new RetryingStore(Open(rgw.Options(_prefix) with { Bucket = bucket }), FastRetries());
        string expected = $"bucket {bucket} does not exist at {RadosgwFixture.Endpoint}";
        ObjectName name = RandomName(ObjectKind.Snapshots);
        var errors = new[]
        {
            await Assert.ThrowsAsync<PermanentStoreException>(() => ListAllAsync(store, ObjectKind.Snapshots)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, name, [1])),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, 0, new byte[1], Ct)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(name, Ct)),
        };
        Assert.All(errors, e => Assert.Equal(expected, e.Message));
    }

    [SkippableFact]
    public async Task CreateBucketIfMissing_CreatesOnce()
    {
        string bucket = "strata-new-" + Guid.NewGuid().ToString("N")[..10];
        await using S3Store store = Open(rgw.Options("") with { Bucket = bucket });
        try
        {
            await store.CreateBucketIfMissingAsync(Ct);
            await store.CreateBucketIfMissingAsync(Ct);
            await WriteAsync(store, ObjectName.Config, [1]);
            await store.DeleteAsync(ObjectName.Config, Ct);
        }
        finally
        {
            await rgw.Client.DeleteBucketAsync(bucket);
        }
    }

    [SkippableFact]
    public async Task ATruncatedMultipartUpload_LeavesNoVisibleObjectAndNoPendingUpload()
    {
        S3Store store = await S3Async();
        var faults = new FaultInjectingStore(store).TruncateWrite(1, 20 * MiB);
        ObjectName name = RandomName(ObjectKind.Data);
        var e = await Assert.ThrowsAsync<TransientStoreException>(() => WriteAsync(faults, name, RandomBytes(40 * MiB, 34)));
        Assert.Contains(name.Path, e.Message, StringComparison.Ordinal);
        Assert.Null(await store.StatAsync(name, Ct));
        Assert.Equal(0, await VisibleKeysAsync());
        Assert.Equal(0, await PendingUploadsAsync());
    }

    [SkippableFact]
    public async Task RetryingStore_RecoversFromAConnectionDroppedMidUpload()
    {
        S3Store store = await S3Async();
        var faults = new FaultInjectingStore(store).TruncateWrite(1, 17 * MiB);
        var retrying = new RetryingStore(faults, FastRetries());
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(20 * MiB, 35);
        await WriteAsync(retrying, name, content);

        Assert.Equal(2, faults.Writes);
        Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
        GetObjectMetadataResponse head = await rgw.Client.GetObjectMetadataAsync(rgw.Bucket, KeyOf(name), Ct);
        Assert.Equal("DEEP_ARCHIVE", head.StorageClass?.Value);
        Assert.EndsWith("-2\"", head.ETag, StringComparison.Ordinal);
        Assert.Equal(0, await PendingUploadsAsync());
    }

    [SkippableFact]
    public async Task AMultipartUpload_IsRefusedWhenAnotherWriterCreatedTheObjectMeanwhile()
    {
        S3Store store = await S3Async();
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] theirs = RandomBytes(3000, 36);
        byte[] ours = RandomBytes(20 * MiB, 37);
        // Our upload's parts are sent; before it completes, another writer creates the object.
        using var content = new OnEndStream(ours, () => WriteAsync(store, name, theirs));
        await Assert.ThrowsAsync<ObjectExistsException>(() => store.WriteAsync(name, content, Ct));
        Assert.True(content.Ended);
        Assert.Equal(theirs, await ReadAllAsync(store, name, 0, theirs.Length));
        Assert.Equal(theirs.Length, (await store.StatAsync(name, Ct))?.Length);
        Assert.Equal(0, await PendingUploadsAsync());
    }

    /// <summary>A seekable stream over bytes that runs an action the first time it is read to its end.</summary>
    private sealed class OnEndStream(byte[] bytes, Func<Task> onEnd) : MemoryStream(bytes, writable: false)
    {
        public bool Ended { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await base.ReadAsync(buffer, cancellationToken);
            if (n == 0 && buffer.Length > 0 && !Ended)
            {
                Ended = true;
                await onEnd();
            }
            return n;
        }
    }
}
