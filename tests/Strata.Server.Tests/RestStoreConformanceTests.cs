using Strata.Conformance;
using Strata.Stores;

namespace Strata.Server.Tests;

/// <summary>The whole store conformance suite, through RestStore, HTTP and the server, over a local folder.</summary>
public sealed class RestStoreConformanceTests : StoreConformanceTests
{
    private TestServer? _server;

    protected override async Task<IStore> CreateStoreAsync()
    {
        _server = await TestServer.StartAsync();
        return _server.Store("admin");
    }

    protected override Task PlantForeignObjectAsync(string path, byte[] content)
    {
        string file = Path.Combine(_server!.RepoRoot(), path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        return File.WriteAllBytesAsync(file, content);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
