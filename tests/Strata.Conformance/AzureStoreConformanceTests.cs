using Azure.Storage;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Strata.Stores;
using Strata.Stores.Azure;

namespace Strata.Conformance;

/// <summary>
/// The Azure Blob store against a real Azurite on loopback (scripts/services/azurite.sh): the whole conformance suite,
/// with a listing past several pages, plus what only Azure has: access tiers, Archive and its rehydration, credentials,
/// containers. Each test uses its own folder in the class's container.
/// Azurite stores the Archive tier and refuses to read it (409 BlobArchived), as Azure does, but its rehydration is
/// instant: a thaw that takes hours on Azure is ready at once here, so these tests cannot show the waiting.
/// </summary>
public sealed class AzureStoreConformanceTests(AzuriteFixture azurite) : StoreConformanceTests, IClassFixture<AzuriteFixture>
{
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..12] + "/";

    /// <summary>With pages of 50 blobs (Azure's page is 5,000), the listing must follow continuation tokens across three pages.</summary>
    protected override int ManyObjects => 130;

    private const int PageSize = 50;

    protected override Task<IStore> CreateStoreAsync() => Task.FromResult<IStore>(Open());

    private AzureStore Open(AzureStoreOptions? options = null, StorageSharedKeyCredential? key = null)
    {
        azurite.RequireServer();
        return new AzureStore(options ?? azurite.Options(_prefix) with { ListPageSize = PageSize }, key ?? AzuriteFixture.Credential, null);
    }

    private async Task<AzureStore> AzureAsync() => (AzureStore)await StoreAsync();

    private BlockBlobClient Raw(ObjectName name) => azurite.Client.GetBlockBlobClient(_prefix + name.Path);

    protected override async Task PlantForeignObjectAsync(string path, byte[] content)
    {
        using var body = new MemoryStream(content);
        await azurite.Client.GetBlockBlobClient(_prefix + path).UploadAsync(body, cancellationToken: Ct);
    }

    [SkippableFact]
    public async Task DataBlobs_LandInArchive_AndWarmBlobsInHot()
    {
        AzureStore store = await AzureAsync();
        ObjectName data = RandomName(ObjectKind.Data);
        ObjectName index = RandomName(ObjectKind.Index);
        await WriteAsync(store, data, RandomBytes(1000, 31));
        await WriteAsync(store, index, RandomBytes(1000, 32));

        Assert.Equal(AccessTier.Archive, (await Raw(data).GetPropertiesAsync(cancellationToken: Ct)).Value.AccessTier);
        Assert.Equal(AccessTier.Hot, (await Raw(index).GetPropertiesAsync(cancellationToken: Ct)).Value.AccessTier);
        Assert.Equal("Archive", (await store.StatAsync(data, Ct))?.StorageClass);
        Assert.Equal("Hot", (await store.StatAsync(index, Ct))?.StorageClass);
        Assert.Equal("Archive", (await ListAllAsync(store, ObjectKind.Data)).Single().StorageClass);
        Assert.Equal("Hot", (await ListAllAsync(store, ObjectKind.Index)).Single().StorageClass);

        Assert.True(store.Properties.HasColdTier);
        Assert.Equal("azure-blob", store.Properties.PriceProvider);
        Assert.Equal("Archive", store.Properties.ColdStorageClass);
        Assert.Equal("Hot", store.Properties.WarmStorageClass);
    }

    [SkippableFact]
    public async Task ReadingAnArchivedBlob_IsObjectFrozen_UntilAThawRehydratesIt()
    {
        AzureStore store = await AzureAsync();
        ObjectName data = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(20_000, 33);
        await WriteAsync(store, data, content);

        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(data, Ct)).State);
        var e = await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(data, 0, new byte[100], Ct));
        Assert.Equal(data, e.Name);
        Assert.Equal(ThawState.Frozen, e.Status.State);
        Assert.Contains("(Archive)", e.Message, StringComparison.Ordinal);
        Assert.Contains(store.Location, e.Message, StringComparison.Ordinal);

        // Azurite rehydrates at once; Azure would answer Thawing ("rehydrate-pending-to-hot") for up to 15 hours.
        await store.RequestThawAsync(data, new ThawRequest(ThawTier.Bulk, 3), Ct);
        BlobProperties after = (await Raw(data).GetPropertiesAsync(cancellationToken: Ct)).Value;
        Assert.Equal(AccessTier.Hot, after.AccessTier);
        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(data, Ct)).State);
        byte[] got = new byte[content.Length - 5000];
        await store.ReadAsync(data, 5000, got, Ct);
        Assert.Equal(content[5000..], got);

        // Asking again (another restore of the same pack) changes nothing.
        await store.RequestThawAsync(data, new ThawRequest(ThawTier.Expedited, 1), Ct);
        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(data, Ct)).State);
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.RequestThawAsync(RandomName(ObjectKind.Data), new ThawRequest(ThawTier.Bulk, 1), Ct));
    }

    [Fact]
    public void ThawStatus_And_Priority_FollowAzuresProperties()
    {
        Assert.Equal(ThawState.Frozen, AzureStore.StatusFrom("Archive", null).State);
        Assert.Equal(ThawState.Thawing, AzureStore.StatusFrom("Archive", "rehydrate-pending-to-hot").State);
        Assert.Equal(ThawState.Thawing, AzureStore.StatusFrom("Archive", "rehydrate-pending-to-cool").State);
        Assert.Equal(ThawState.Readable, AzureStore.StatusFrom("Hot", null).State);
        Assert.Equal(ThawState.Readable, AzureStore.StatusFrom("Cool", null).State);
        Assert.Equal(ThawState.Readable, AzureStore.StatusFrom("Cold", null).State);
        Assert.Equal(RehydratePriority.Standard, AzureStore.PriorityFor(ThawTier.Bulk));
        Assert.Equal(RehydratePriority.Standard, AzureStore.PriorityFor(ThawTier.Standard));
        Assert.Equal(RehydratePriority.High, AzureStore.PriorityFor(ThawTier.Expedited));
    }

    [SkippableFact]
    public async Task ColdTier_IsAnOption_AndOnlyArchiveNeedsAThaw()
    {
        await using AzureStore store = Open(azurite.Options(_prefix) with { ColdTier = "Cool" });
        ObjectName data = RandomName(ObjectKind.Data);
        await WriteAsync(store, data, [1, 2, 3]);
        Assert.Equal("Cool", (await store.StatAsync(data, Ct))?.StorageClass);
        Assert.False(store.Properties.HasColdTier);
        Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(data, Ct)).State);
        byte[] got = new byte[3];
        await store.ReadAsync(data, 0, got, Ct);
        Assert.Equal(new byte[] { 1, 2, 3 }, got);
        Assert.Throws<ArgumentException>(() => Open(azurite.Options(_prefix) with { ColdTier = "DEEP_ARCHIVE" }));
    }

    [SkippableFact]
    public async Task StageWarm_WritesHot_AndMoveToColdArchives()
    {
        await using AzureStore store = Open(azurite.Options(_prefix) with { StageWarm = true });
        ObjectName data = RandomName(ObjectKind.Data);
        await WriteAsync(store, data, RandomBytes(3000, 35));
        ObjectInfo staged = (await ListAllAsync(store, ObjectKind.Data)).Single();
        Assert.Equal("Hot", staged.StorageClass);
        Assert.True(store.IsStaged(staged));
        await store.MoveToColdAsync(data, Ct);
        ObjectInfo moved = (await ListAllAsync(store, ObjectKind.Data)).Single();
        Assert.Equal("Archive", moved.StorageClass);
        Assert.False(store.IsStaged(moved));
    }

    [SkippableFact]
    public async Task ABlobWithoutAStoredHash_IsComparedByteForByte()
    {
        AzureStore store = await AzureAsync();
        ObjectName name = RandomName(ObjectKind.Snapshots);
        byte[] content = RandomBytes(4000, 36);
        // Committed from a block list, a blob has no Content-MD5 unless the writer sets one (restic's don't).
        BlockBlobClient raw = Raw(name);
        string block = Convert.ToBase64String(new byte[16]);
        using (var body = new MemoryStream(content))
        {
            await raw.StageBlockAsync(block, body, cancellationToken: Ct);
        }
        await raw.CommitBlockListAsync([block], cancellationToken: Ct);
        Assert.Null((await raw.GetPropertiesAsync(cancellationToken: Ct)).Value.ContentHash);

        await WriteAsync(store, name, content);
        byte[] other = (byte[])content.Clone();
        other[1234] ^= 1;
        await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, name, other));
        Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
    }

    [SkippableFact]
    public async Task ARetriedWriteOfAnArchivedPack_IsRecognisedByItsHash()
    {
        AzureStore store = await AzureAsync();
        ObjectName data = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(10_000, 37);
        await WriteAsync(store, data, content);
        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(data, Ct)).State);
        await WriteAsync(store, data, content);
        byte[] other = (byte[])content.Clone();
        other[0] ^= 1;
        await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, data, other));
        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(data, Ct)).State);
    }

    [SkippableFact]
    public async Task WrongAccountKey_GivesAClearPermanentError_NamingAccountAndContainer()
    {
        var wrong = new StorageSharedKeyCredential(AzuriteFixture.Account, Convert.ToBase64String(new byte[64]));
        await using IStore store = new RetryingStore(Open(key: wrong), FastRetries());
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
            Assert.StartsWith($"access denied to container {azurite.Container} of Azure storage account {AzuriteFixture.Account} at {AzuriteFixture.Endpoint}", e.Message, StringComparison.Ordinal);
            Assert.Contains("AZURE_ACCOUNT_KEY", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("AAAAAAAA", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [SkippableFact]
    public async Task AMissingContainer_GivesAClearPermanentError_AndCreateMakesIt()
    {
        string container = "strata-missing-" + Guid.NewGuid().ToString("N")[..10];
        await using AzureStore store = Open(azurite.Options(_prefix) with { Container = container });
        string expected = $"container {container} does not exist in Azure storage account {AzuriteFixture.Account} at {AzuriteFixture.Endpoint} (strata init creates it)";
        ObjectName name = RandomName(ObjectKind.Snapshots);
        var errors = new[]
        {
            await Assert.ThrowsAsync<PermanentStoreException>(() => ListAllAsync(store, ObjectKind.Snapshots)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, name, [1])),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, 0, new byte[1], Ct)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(name, Ct)),
        };
        Assert.All(errors, e => Assert.Equal(expected, e.Message));

        try
        {
            await store.CreateContainerIfMissingAsync(Ct);
            await store.CreateContainerIfMissingAsync(Ct);
            await WriteAsync(store, name, [1]);
            Assert.Equal(1, (await store.StatAsync(name, Ct))?.Length);
        }
        finally
        {
            await new Azure.Storage.Blobs.BlobContainerClient(new Uri(AzuriteFixture.Endpoint + "/" + container), AzuriteFixture.Credential).DeleteIfExistsAsync();
        }
    }

    [SkippableFact]
    public async Task NothingListening_IsATransientError()
    {
        azurite.RequireServer();
        var options = azurite.Options(_prefix) with { ServiceUri = new Uri("http://127.0.0.1:9/devstoreaccount1"), SdkRetries = 0 };
        await using var store = new AzureStore(options, AzuriteFixture.Credential, null);
        var e = await Assert.ThrowsAsync<TransientStoreException>(() => store.StatAsync(RandomName(ObjectKind.Index), Ct));
        Assert.Contains("127.0.0.1:9", e.Message, StringComparison.Ordinal);
    }
}
