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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
