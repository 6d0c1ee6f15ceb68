using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Packs;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Tests.Restorer;

/// <summary>
/// A real repository in a local folder under /var/tmp (optionally with the simulated cold tier) on a fake clock, a
/// source folder, and backups made with the real <see cref="Archiver.Archiver"/>. <see cref="ReopenAsync"/> opens it again
/// from the folder alone, as a new process would.
/// </summary>
internal sealed class TestRepository : IAsyncDisposable
{
    public const string Password = "test passphrase";

    /// <summary>Small chunks (16/64/256 KiB) so a few megabytes make many blobs and several 1 MiB packs.</summary>
    public static readonly ChunkerParameters SmallChunks = new("fastcdc-2020", 16 * 1024, 64 * 1024, 256 * 1024);

    private readonly List<Repo> _opened = [];

    private TestRepository(string root, FakeTimeProvider clock)
    {
        Root = root;
        Clock = clock;
        Source = Path.Combine(root, "src");
        RepoDir = Path.Combine(root, "repo");
        Cache = Path.Combine(root, "cache");
        Directory.CreateDirectory(Source);
    }

    public string Root { get; }
    public string Source { get; }
    public string RepoDir { get; }
    public string Cache { get; }
    public FakeTimeProvider Clock { get; }
    public Repo Repo { get; private set; } = null!;
    public long PackSize => Repo.Config.Packs.ColdTargetSize;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    /// <summary>Cancels after three minutes, so a test that would hang fails instead.</summary>
    public CancellationToken Ct => _timeout.Token;

    public static async Task<TestRepository> CreateAsync(ColdSimulation? simulation, long coldPackSize = 1 << 20, ChunkerParameters? chunker = null)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        var t = new TestRepository(Path.Combine("/var/tmp", "strata-core-" + Guid.NewGuid().ToString("N")[..12]), clock);
        var store = new LocalStore(t.RepoDir, clock);
        if (simulation is not null)
        {
            store.EnableColdSimulation(simulation);
        }
        RepoConfig config = RepoConfig.CreateNew(clock.GetUtcNow(), coldPackSize) with { Chunker = chunker ?? SmallChunks };
        t.Repo = await Repo.InitAsync(store, Password, config, MasterKeys.CreateNew(), clock, t.Ct);
        t._opened.Add(t.Repo);
        return t;
    }

    /// <summary>Opens the repository again from its folder (new store, new index), as another process would.</summary>
    public async Task<Repo> ReopenAsync(Func<IStore, IStore>? wrap = null)
    {
        IStore store = new LocalStore(RepoDir, Clock);
        var repo = await Repo.OpenAsync(wrap is null ? store : wrap(store), Password, Clock, Ct);
        await repo.LoadIndexAsync(Ct);
        _opened.Add(repo);
        Repo = repo;
        return repo;
    }

    public string Write(string relative, byte[] content)
    {
        string path = Path.Combine(Source, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Incompressible bytes, so stored sizes equal file sizes (plus a few bytes per blob).</summary>
    public static byte[] RandomBytes(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Backs up <see cref="Source"/> through the real archiver and returns the snapshot, read back from the repository.</summary>
    public async Task<SnapshotRef> BackupAsync()
    {
        var options = new BackupOptions { Paths = [Source], Workers = 2 };
        var archiver = new Archiver.Archiver(Repo, options, new BackupProgress(), new ParentTrees(Repo, Cache));
        BackupResult result = await archiver.RunAsync(Ct);
        return new SnapshotRef(result.SnapshotId, result.Snapshot);
    }

    /// <summary>Blob id to pack id, read from the warm catalogs/ objects (independent of the in-memory index).</summary>
    public async Task<Dictionary<BlobId, BlobId>> BlobPacksFromCatalogsAsync()
    {
        var map = new Dictionary<BlobId, BlobId>();
        await foreach (ObjectInfo o in Repo.Store.ListAsync(ObjectKind.Catalogs, Ct))
        {
            byte[] tail = await Repo.ReadWholeAsync(Repo.Store, o.Name, o.Length, Ct);
            var (trailer, entries) = PackCodec.ParseTail(tail, Repo.Keys.IndexKey, o.Name.Path);
            if (trailer.Kind != PackKind.Data)
            {
                continue;
            }
            foreach (CatalogEntry e in entries)
            {
                map[e.Id] = BlobId.Parse(o.Name.Name);
            }
        }
        return map;
    }

    /// <summary>Thaws some data packs at once (Expedited, then the clock moves past its delay): a test's way to have only those readable.</summary>
    public async Task ThawNowAsync(IEnumerable<BlobId> packs)
    {
        var sim = Repo.Store.Find<LocalStore>()!.Simulation!;
        foreach (BlobId id in packs)
        {
            await Repo.Store.RequestThawAsync(new ObjectName(ObjectKind.Data, id.ToString()), new ThawRequest(ThawTier.Expedited, 1), Ct);
        }
        Clock.Advance(sim.DelayFor(ThawTier.Expedited) + TimeSpan.FromSeconds(1));
    }

    public string Restored(string target, string original) => target + original;

    public ValueTask DisposeAsync()
    {
        _timeout.Dispose();
        try
        {
            using var p = Process.Start(new ProcessStartInfo("rm", ["-rf", "--one-file-system", Root]) { UseShellExecute = false });
            p?.WaitForExit();
        }
        catch (Exception)
        {
            // best effort
        }
        return ValueTask.CompletedTask;
    }
}
