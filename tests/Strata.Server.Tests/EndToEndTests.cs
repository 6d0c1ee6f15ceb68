using System.Diagnostics;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Server.Tests;

/// <summary>Real clients against a real server: the restic binary, and Strata's own engine through rest: URLs.</summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private const string OwnerPassword = "owner passphrase";
    private const string WriterPassword = "writer passphrase";
    private readonly string _work = Path.Combine(Path.GetTempPath(), "strata-server-e2e-" + Guid.NewGuid().ToString("N"));
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));
    private TestServer _server = null!;

    private CancellationToken Ct => _timeout.Token;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        _server = await TestServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_work, recursive: true);
        _timeout.Dispose();
    }

    private string MakeSource(string name, int seed, byte[]? shared = null)
    {
        string dir = Path.Combine(_work, name);
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        var rng = new Random(seed);
        for (int i = 0; i < 5; i++)
        {
            byte[] b = new byte[rng.Next(1, 3_000_000)];
            rng.NextBytes(b);
            File.WriteAllBytes(Path.Combine(dir, i % 2 == 0 ? "sub" : "", $"file{i}.bin"), b);
        }
        File.WriteAllText(Path.Combine(dir, "small.txt"), $"hello from {name}\n");
        if (shared is not null)
        {
            File.WriteAllBytes(Path.Combine(dir, "shared.bin"), shared);
        }
        return dir;
    }

    private static void AssertSameTree(string expected, string actualRoot)
    {
        string[] files = Directory.GetFiles(expected, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (string f in files)
        {
            string rel = Path.GetRelativePath(expected, f);
            string[] found = Directory.GetFiles(actualRoot, Path.GetFileName(f), SearchOption.AllDirectories)
                .Where(p => p.EndsWith(Path.DirectorySeparatorChar + rel, StringComparison.Ordinal)).ToArray();
            Assert.True(found.Length == 1, $"{rel} was not restored exactly once under {actualRoot}");
            Assert.True(File.ReadAllBytes(f).AsSpan().SequenceEqual(File.ReadAllBytes(found[0])), $"{rel} differs");
        }
    }

    // ------------------------------------------------------------------ restic

    private (int Code, string Output) Restic(string? user, params string[] args)
    {
        var psi = new ProcessStartInfo("restic") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-r");
        psi.ArgumentList.Add(_server.Url(user));
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["RESTIC_PASSWORD"] = "restic repository password";
        psi.Environment["RESTIC_CACHE_DIR"] = Path.Combine(_work, "restic-cache-" + user);
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(240_000), "restic did not finish in 4 minutes");
        return (p.ExitCode, stdout + err.Result);
    }

    private static bool HasRestic() =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Any(d => File.Exists(Path.Combine(d, "restic")));

    [SkippableFact]
    public void Restic_InitBackupRestoreCheck_WithWriterAndReaderLogins()
    {
        Skip.IfNot(HasRestic(), "the restic binary is not installed (Debian package 'restic'); this test runs the real client");
        string src = MakeSource("restic-src", 1);
        var init = Restic("writer", "init");
        Assert.True(init.Code == 0, init.Output);
        var backup = Restic("writer", "backup", src);
        Assert.True(backup.Code == 0, backup.Output);
        // A second backup deduplicates against the first (reads index and snapshots, writes only new objects).
        File.WriteAllText(Path.Combine(src, "added.txt"), "new file\n");
        var second = Restic("reader", "backup", src);
        Assert.True(second.Code == 0, second.Output);

        // (A writer login's 403 on data and tree is tested with plain HTTP: restic retries it for minutes.)
        // The reader restores byte for byte, and the repository checks clean with every pack read.
        string target = Path.Combine(_work, "restic-out");
        var restore = Restic("reader", "restore", "latest", "--target", target);
        Assert.True(restore.Code == 0, restore.Output);
        AssertSameTree(src, target);
        var check = Restic("reader", "check", "--read-data");
        Assert.True(check.Code == 0, check.Output);
        Assert.Contains("no errors were found", check.Output, StringComparison.Ordinal);

        // Forgetting deletes a snapshot: an admin may.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_server.RepoRoot(), "snapshots")).Length);
        var forgetAdmin = Restic("admin", "forget", "latest");
        Assert.True(forgetAdmin.Code == 0, forgetAdmin.Output);
        Assert.Single(Directory.GetFiles(Path.Combine(_server.RepoRoot(), "snapshots")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_server.RepoRoot(), "locks")));
    }

    // ------------------------------------------------------------------ strata

    private async Task InitStrataAsync()
    {
        await using IStore admin = _server.Store("admin");
        await using Repo repo = await Repo.InitAsync(admin, OwnerPassword, RepoConfig.CreateNew(DateTimeOffset.UtcNow), MasterKeys.CreateNew(), TimeProvider.System, Ct);
        KeyFile writerKey = KeyFile.Create(repo.Keys.WriterOnly(), KeyRole.Writer, WriterPassword, "test", "test", DateTimeOffset.UtcNow, memoryKib: 8192, passes: 1);
        await repo.WriteObjectAsync(ObjectKind.Keys, writerKey.ToBytes(), Ct);
    }

    private async Task<BackupResult> BackupAsync(string user, string source, string cacheName)
    {
        IStore store = new RetryingStore(new LimitingStore(_server.Store(user)));
        await using Repo repo = await Repo.OpenAsync(store, WriterPassword, TimeProvider.System, Ct);
        Assert.False(repo.Keys.CanRead);
        await repo.LoadIndexAsync(Ct);
        var options = new BackupOptions { Paths = Archiver.Archiver.NormalizePaths([source]), Host = "test", Workers = 2 };
        var archiver = new Archiver.Archiver(repo, options, new BackupProgress(), new ParentTrees(repo, Path.Combine(_work, "cache-" + cacheName)));
        return await archiver.RunAsync(Ct);
    }

    [Fact]
    public async Task Strata_WriterLoginBacksUp_ReaderLoginRestoresByteForByte()
    {
        await InitStrataAsync();
        string src = MakeSource("strata-src", 2);
        BackupResult first = await BackupAsync("writer", src, "w");
        File.WriteAllText(Path.Combine(src, "later.txt"), "added later\n");
        BackupResult second = await BackupAsync("writer", src, "w");
        Assert.Equal(2, second.Snapshot.Version);
        Assert.True(second.Snapshot.Stats.BytesAdded < 100_000, $"the second backup added {second.Snapshot.Stats.BytesAdded} bytes: dedup across the REST store failed");

        // The owner passphrase does not help a writer login read contents.
        await using (Repo viaWriter = await Repo.OpenAsync(_server.Store("writer"), OwnerPassword, TimeProvider.System, Ct))
        {
            await viaWriter.LoadIndexAsync(Ct);
            SnapshotRef s = await viaWriter.FindSnapshotAsync(second.SnapshotId, Ct);
            var e = await Assert.ThrowsAnyAsync<Exception>(() => viaWriter.LoadTreeAsync(BlobIdOf(s.Snapshot.Tree), Ct));
            Assert.Contains("403", e.ToString(), StringComparison.Ordinal);
        }

        await using Repo reader = await Repo.OpenAsync(_server.Store("reader"), OwnerPassword, TimeProvider.System, Ct);
        await reader.LoadIndexAsync(Ct);
        SnapshotRef snap = await reader.FindSnapshotAsync(second.SnapshotId, Ct);
        string target = Path.Combine(_work, "strata-out");
        var result = await new Restorer.Restorer(reader, new Restorer.RestoreOptions { Target = target }).RunAsync(snap.Snapshot, Ct);
        Assert.Empty(result.Failures);
        AssertSameTree(src, target);
        CheckResult check = await new Checker(reader).RunAsync(readData: true, null, Ct);
        Assert.True(check.Ok, string.Join("\n", check.Findings));
        Assert.Equal(2, check.Snapshots);
        _ = first;
    }

    private static BlobId BlobIdOf(string id) => BlobId.Parse(id);

    [Fact]
    public async Task Strata_FourClientsBackUpConcurrently_SharingDedup_AndCheckIsClean()
    {
        await InitStrataAsync();
        byte[] shared = new byte[4_000_000];
        new Random(99).NextBytes(shared);
        string[] sources = Enumerable.Range(0, 4).Select(i => MakeSource($"client{i}", 10 + i, shared)).ToArray();
        BackupResult[] results = await Task.WhenAll(sources.Select((s, i) => Task.Run(() => BackupAsync(i % 2 == 0 ? "writer" : "writer2", s, "c" + i))));
        Assert.Equal(4, results.Select(r => r.SnapshotId).Distinct().Count());

        // Afterwards a fifth backup of the shared bytes stores nothing new for them.
        string late = Path.Combine(_work, "late");
        Directory.CreateDirectory(late);
        File.WriteAllBytes(Path.Combine(late, "shared-copy.bin"), shared);
        BackupResult fifth = await BackupAsync("writer", late, "late");
        Assert.True(fifth.Snapshot.Stats.BytesAdded < 100_000, $"the shared file was stored again ({fifth.Snapshot.Stats.BytesAdded} bytes added)");

        await using Repo reader = await Repo.OpenAsync(_server.Store("reader"), OwnerPassword, TimeProvider.System, Ct);
        await reader.LoadIndexAsync(Ct);
        CheckResult check = await new Checker(reader).RunAsync(readData: true, null, Ct);
        Assert.True(check.Ok, string.Join("\n", check.Findings));
        Assert.Equal(5, check.Snapshots);
        string target = Path.Combine(_work, "client2-out");
        SnapshotRef snap = await reader.FindSnapshotAsync(results[2].SnapshotId, Ct);
        var restored = await new Restorer.Restorer(reader, new Restorer.RestoreOptions { Target = target }).RunAsync(snap.Snapshot, Ct);
        Assert.Empty(restored.Failures);
        AssertSameTree(sources[2], target);
    }
}
