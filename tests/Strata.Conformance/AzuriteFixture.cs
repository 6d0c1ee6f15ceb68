using System.Net.Sockets;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Strata.Stores;
using Strata.Stores.Azure;

namespace Strata.Conformance;

/// <summary>
/// The Azurite that scripts/services/azurite.sh starts on 127.0.0.1:10000 (account devstoreaccount1 with the emulator's
/// well-known key), and one fresh container for one test class (removed at the end). When Azurite is down, every test
/// that needs it fails with what to run, unless STRATA_SKIP_AZURE=1 says that is expected; then they are skipped with
/// that reason. Azurite keeps the Archive tier (a read answers 409 BlobArchived) but rehydrates at once: it cannot show
/// a thaw that takes hours.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public const string Account = "devstoreaccount1";
    public const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    public static readonly Uri Endpoint = new("http://127.0.0.1:10000/devstoreaccount1");
    public static readonly StorageSharedKeyCredential Credential = new(Account, Key);

    public string Container { get; } = "strata-conf-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>A plain SDK client for looking behind the store's back.</summary>
    public BlobContainerClient Client { get; }

    /// <summary>Why the server cannot be used, or null when it can.</summary>
    public string? Problem { get; private set; }

    private bool _down;

    public AzuriteFixture()
    {
        Client = new BlobContainerClient(new Uri(Endpoint + "/" + Container), Credential, new BlobClientOptions(BlobClientOptions.ServiceVersion.V2026_06_06));
    }

    public AzureStoreOptions Options(string prefix) => new()
    {
        AccountName = Account,
        ServiceUri = Endpoint,
        Container = Container,
        Prefix = prefix,
    };

    public async Task InitializeAsync()
    {
        try
        {
            using var tcp = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await tcp.ConnectAsync("127.0.0.1", 10000, cts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            _down = true;
            Problem = $"Azurite is not answering on {Endpoint}: run scripts/services/azurite.sh start (it installs what it needs), or set STRATA_SKIP_AZURE=1 to skip the Azure tests";
            return;
        }
        try
        {
            await using var store = new AzureStore(Options(""), Credential, null);
            await store.CreateContainerIfMissingAsync(CancellationToken.None);
        }
        catch (StoreException e)
        {
            Problem = $"Azurite answers on {Endpoint} but the test container could not be created: {e.Message}";
        }
    }

    /// <summary>Skips (STRATA_SKIP_AZURE=1 and the server is down) or fails (otherwise) a test that needs the server.</summary>
    public void RequireServer()
    {
        if (Problem is null)
        {
            return;
        }
        Skip.If(_down && Environment.GetEnvironmentVariable("STRATA_SKIP_AZURE") == "1", $"STRATA_SKIP_AZURE=1 and {Problem}");
        throw new InvalidOperationException(Problem);
    }

    public async Task DisposeAsync()
    {
        if (Problem is null)
        {
            try
            {
                await Client.DeleteIfExistsAsync();
            }
            catch (RequestFailedException)
            {
                // A leftover container in a throwaway emulator is harmless.
            }
        }
    }
}
