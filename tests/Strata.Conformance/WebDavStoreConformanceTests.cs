using Strata.Stores;

namespace Strata.Conformance;

/// <summary>
/// The WebDAV store against a real apache mod_dav_fs on loopback (scripts/services/webdav.sh): the whole conformance
/// suite, plus what only WebDAV has: LocalStore's folder layout on the server, no temp files left behind, folders
/// created on demand, and a wrong password. Each test uses its own folder on the server.
/// </summary>
public sealed class WebDavStoreConformanceTests(WebDavFixture dav) : StoreConformanceTests, IClassFixture<WebDavFixture>
{
    private readonly string _folder = dav.NewFolder("conf");

    protected override Task<IStore> CreateStoreAsync() => Task.FromResult<IStore>(Open());

    private WebDavStore Open(string? password = null)
    {
        dav.RequireServer();
        return new WebDavStore(dav.Location(_folder, password ?? WebDavFixture.Password));
    }

    protected override Task PlantForeignObjectAsync(string path, byte[] content) => dav.PlantAsync(_folder + "/" + path, content);

    [SkippableFact]
    public async Task Objects_LieInLocalStoresLayout_AndNoTempFileIsLeftBehind()
    {
        IStore store = await StoreAsync();
        ObjectName data = new(ObjectKind.Data, "ab" + new string('1', 62));
        ObjectName index = new(ObjectKind.Index, "cd" + new string('2', 62));
        byte[] dataBytes = RandomBytes(5000, 51);
        byte[] indexBytes = RandomBytes(700, 52);
        await WriteAsync(store, data, dataBytes);
        await WriteAsync(store, index, indexBytes);
        await WriteAsync(store, ObjectName.Config, [7, 7]);
        await WriteAsync(store, data, dataBytes);
        await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, index, RandomBytes(700, 53)));

        Assert.Equal(dataBytes, await dav.GetAsync($"{_folder}/data/ab/{data.Name}"));
        Assert.Equal(indexBytes, await dav.GetAsync($"{_folder}/index/{index.Name}"));
        Assert.Equal(new byte[] { 7, 7 }, await dav.GetAsync($"{_folder}/config"));
        Assert.Empty((await dav.NamesInAsync($"{_folder}/tmp")) ?? []);
    }

    [SkippableFact]
    public async Task AFailedUpload_LeavesNoTempFile()
    {
        IStore store = await StoreAsync();
        var faults = new FaultInjectingStore(store).TruncateWrite(1, 3000);
        ObjectName name = RandomName(ObjectKind.Index);
        await Assert.ThrowsAsync<TransientStoreException>(() => WriteAsync(faults, name, RandomBytes(10_000, 54)));
        Assert.Null(await store.StatAsync(name, Ct));
        Assert.Empty((await dav.NamesInAsync($"{_folder}/tmp")) ?? []);
    }

    [SkippableFact]
    public async Task CreateFolder_MakesTheWholePath_AndMayRunTwice()
    {
        dav.RequireServer();
        string nested = _folder + "/nas/backups/strata";
        await using var store = new WebDavStore(dav.Location(nested));
        Assert.Null(await dav.NamesInAsync(nested));
        await store.CreateFolderAsync(Ct);
        await store.CreateFolderAsync(Ct);
        Assert.Empty((await dav.NamesInAsync(nested))!);
        await WriteAsync(store, ObjectName.Config, [1]);
        Assert.Equal(new byte[] { 1 }, await dav.GetAsync(nested + "/config"));
    }

    [SkippableFact]
    public async Task AWrongPassword_IsAClearPermanentErrorThatNamesTheUrlButNotThePassword()
    {
        await using IStore good = Open();
        ObjectName name = RandomName(ObjectKind.Snapshots);
        await WriteAsync(good, name, [1, 2, 3]);

        // Through the retry decorator, as the program uses it: a refused login is not worth a retry.
        await using IStore store = new RetryingStore(Open(password: "WRONG-PASSWORD-5f2a"), FastRetries());
        string url = $"webdav:http://{WebDavFixture.User}@{WebDavFixture.Host}:{WebDavFixture.Port}/{_folder}/";
        Assert.Equal(url, store.Location);
        var errors = new[]
        {
            await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, RandomName(ObjectKind.Index), [1])),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, 0, new byte[1], Ct)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(name, Ct)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => ListAllAsync(store, ObjectKind.Snapshots)),
            await Assert.ThrowsAsync<PermanentStoreException>(() => store.DeleteAsync(name, Ct)),
        };
        foreach (PermanentStoreException e in errors)
        {
            Assert.Contains($"at {url}: the server refused the login of {WebDavFixture.User} (HTTP 401)", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("WRONG-PASSWORD", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.NotNull(await good.StatAsync(name, Ct));
    }

    [SkippableFact]
    public async Task List_OfData_ReadsEverySubfolder_AndSkipsForeignFolders()
    {
        IStore store = await StoreAsync();
        var names = new[] { "00", "0f", "a1", "ff" }.Select(p => new ObjectName(ObjectKind.Data, p + Guid.NewGuid().ToString("N"))).ToList();
        foreach (ObjectName n in names)
        {
            await WriteAsync(store, n, [1, 2]);
        }
        await PlantForeignObjectAsync("data/zz/" + names[0].Name, [9]);
        await PlantForeignObjectAsync("data/abc/" + names[0].Name, [9]);
        await PlantForeignObjectAsync("index/ab/" + names[0].Name, [9]);
        List<ObjectInfo> listed = await ListAllAsync(store, ObjectKind.Data);
        Assert.Equal(names.OrderBy(n => n.Name), listed.Select(o => o.Name).OrderBy(n => n.Name));
        Assert.All(listed, o => Assert.Equal(2, o.Length));
        Assert.Empty(await ListAllAsync(store, ObjectKind.Index));
    }
}
