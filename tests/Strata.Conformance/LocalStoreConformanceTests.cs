using Strata.Stores;

namespace Strata.Conformance;

/// <summary>The local folder store, in a fresh temporary folder per test.</summary>
public class LocalStoreConformanceTests : StoreConformanceTests
{
    protected string Root { get; } = Path.Combine(Path.GetTempPath(), "strata-conformance-" + Guid.NewGuid().ToString("N"));

    protected override Task<IStore> CreateStoreAsync() => Task.FromResult<IStore>(new LocalStore(Root));

    protected override Task PlantForeignObjectAsync(string path, byte[] content)
    {
        string file = Path.Combine(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return File.WriteAllBytesAsync(file, content);
    }

    [Fact]
    public async Task Listing_while_objects_are_deleted_skips_the_deleted_ones_and_never_fails()
    {
        // A lock released, or a pack pruned, between reading the directory and looking at the file: the listing
        // must leave it out, not fail with FileNotFoundException (seen in LockTests as a failed --lock-wait).
        await using IStore store = await CreateStoreAsync();
        string dir = Path.Combine(Root, "locks");
        Directory.CreateDirectory(dir);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 3000; i++)
        {
            string name = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i)));
            names.Add(name);
            await File.WriteAllBytesAsync(Path.Combine(dir, name), [1, 2, 3], Ct);
        }
        Task deleter = Task.Run(() =>
        {
            foreach (string name in names)
            {
                File.Delete(Path.Combine(dir, name));
            }
        }, Ct);
        int passes = 0;
        while (!deleter.IsCompleted || passes < 2)
        {
            await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Locks, Ct))
            {
                Assert.Contains(o.Name.Name, names);
                Assert.Equal(3, o.Length);
            }
            passes++;
        }
        await deleter;
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Locks, Ct))
        {
            Assert.Fail($"{o.Name.Name} is listed after it was deleted");
        }
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
