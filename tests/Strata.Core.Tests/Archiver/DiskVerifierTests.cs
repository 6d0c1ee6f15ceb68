using System.Text;
using Strata.Archiver;
using Strata.Platform;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Core.Tests.Archiver;

/// <summary>
/// verify against a repository whose data packs are in the simulated cold tier (reading one without a thaw throws):
/// every comparison below runs on warm trees and locally computed blob ids.
/// </summary>
public sealed class DiskVerifierTests : IAsyncLifetime
{
    private TestRepository _t = null!;

    public async Task InitializeAsync() => _t = await TestRepository.CreateAsync(new ColdSimulation(DelaySeconds: 48 * 3600));

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private string P(string relative) => Path.Combine(_t.Source, relative);

    private void Write(string relative, string content) => _t.Write(relative, Encoding.UTF8.GetBytes(content));

    private async Task<BackupResult> BackupAsync(FilterOptions? filters = null)
    {
        var options = new BackupOptions { Paths = [_t.Source], Workers = 2, Filter = new Strata.Archiver.SourceFilter(filters ?? new FilterOptions()) };
        var archiver = new Strata.Archiver.Archiver(_t.Repo, options, new BackupProgress(), new ParentTrees(_t.Repo, _t.Cache));
        return await archiver.RunAsync(_t.Ct);
    }

    private async Task<VerifyResult> VerifyAsync(BackupResult b, bool metadataOnly = false, string? path = null) =>
        await new DiskVerifier(_t.Repo, b.Snapshot, metadataOnly, workers: 2).RunAsync(path ?? _t.Source, _t.Ct);

    private void BuildTree()
    {
        Write("docs/a.txt", "alpha");
        Write("docs/b.txt", "bravo");
        Write("docs/skip.tmp", "temporary");
        _t.Write("big.bin", TestRepository.RandomBytes(900_000, seed: 3)); // many 16-64-256 KiB chunks
        Write("gone/x.txt", "x");
        Write("gone/y.txt", "y");
        File.CreateSymbolicLink(P("link"), "docs/a.txt");
        using (var fs = new FileStream(P("sparse.img"), FileMode.Create))
        {
            fs.SetLength(4 << 20);
            fs.Position = 1 << 20;
            fs.Write(TestRepository.RandomBytes(70_000, seed: 4));
        }
    }

    [Fact]
    public async Task An_unchanged_tree_verifies_clean_without_touching_cold_data()
    {
        BuildTree();
        BackupResult b = await BackupAsync(new FilterOptions { Excludes = ["*.tmp"] });
        Assert.True(Posix.LStat(Posix.ToBytes(P("sparse.img"))).Blocks * 512 < 4 << 20, "the test file system keeps holes");
        VerifyResult r = await VerifyAsync(b);
        Assert.Empty(r.Differences); // skip.tmp was left out by the snapshot's own filter: not "new"
        Assert.Equal(6, r.FilesChecked);
        Assert.Equal(6, r.FilesHashed);
        Assert.True(r.BytesRead >= 900_000 + 70_000);
        // the data packs really are cold: reading one fails
        ObjectInfo pack = await _t.Repo.Store.ListAsync(ObjectKind.Data, _t.Ct).FirstAsync(_t.Ct);
        await Assert.ThrowsAsync<ObjectFrozenException>(() => _t.Repo.Store.ReadAsync(pack.Name, 0, new byte[16], _t.Ct));
    }

    [Fact]
    public async Task Changed_missing_new_and_metadata_differences()
    {
        BuildTree();
        BackupResult b = await BackupAsync(new FilterOptions { Excludes = ["*.tmp"] });
        // bit rot: same size, mtime restored
        FileStat st = Posix.LStat(Posix.ToBytes(P("docs/a.txt")));
        Write("docs/a.txt", "alphA");
        Posix.SetTimes(Posix.ToBytes(P("docs/a.txt")), st.ATimeNs, st.MTimeNs);
        // one byte in the middle of a large file
        using (var fs = new FileStream(P("big.bin"), FileMode.Open))
        {
            fs.Position = 450_000;
            int old = fs.ReadByte();
            fs.Position = 450_000;
            fs.WriteByte((byte)(old ^ 0xff));
        }
        Directory.Delete(P("gone"), recursive: true);
        Write("docs/new.txt", "new");
        Write("docs/new.tmp", "left out by the snapshot's filter");
        Posix.Chmod(Posix.ToBytes(P("docs/b.txt")), Convert.ToUInt32("600", 8));
        File.Delete(P("link"));
        File.CreateSymbolicLink(P("link"), "docs/b.txt");

        VerifyResult r = await VerifyAsync(b);
        string S = _t.Source;
        Assert.Equal(
            [
                ($"{S}/big.bin", VerifyChange.Changed),
                ($"{S}/docs/a.txt", VerifyChange.Changed),
                ($"{S}/docs/b.txt", VerifyChange.Metadata),
                ($"{S}/docs/new.txt", VerifyChange.New),
                ($"{S}/gone/x.txt", VerifyChange.Missing),
                ($"{S}/gone/y.txt", VerifyChange.Missing),
                ($"{S}/link", VerifyChange.Changed),
            ],
            r.Differences.Select(d => (d.Path, d.Change)));
        Assert.Contains("bit rot", r.Differences[1].Detail, StringComparison.Ordinal);
        Assert.Contains("mode 644 -> 600", r.Differences[2].Detail, StringComparison.Ordinal);

        // metadata only: blind to same-size content changes, sees the rest
        VerifyResult fast = await VerifyAsync(b, metadataOnly: true);
        Assert.Equal(0, fast.FilesHashed);
        Assert.Equal(0, fast.BytesRead);
        Assert.DoesNotContain(fast.Differences, d => d.Path.EndsWith("/docs/a.txt", StringComparison.Ordinal));
        Assert.Contains(fast.Differences, d => d.Path.EndsWith("/big.bin", StringComparison.Ordinal) && d.Change == VerifyChange.Metadata && d.Detail.Contains("not compared", StringComparison.Ordinal));
        Assert.Contains(fast.Differences, d => d.Path.EndsWith("/docs/b.txt", StringComparison.Ordinal) && d.Change == VerifyChange.Metadata);
        Assert.Contains(fast.Differences, d => d.Path.EndsWith("/gone/x.txt", StringComparison.Ordinal) && d.Change == VerifyChange.Missing);

        // a sub-path of the backup
        VerifyResult sub = await VerifyAsync(b, path: P("docs"));
        Assert.Equal(3, sub.Differences.Count);
        await Assert.ThrowsAsync<Strata.Repository.UserInputException>(() => VerifyAsync(b, path: "/nonexistent/x"));
    }
}
