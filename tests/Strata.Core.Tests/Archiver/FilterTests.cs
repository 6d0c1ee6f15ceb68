using System.Text;
using Strata.Archiver;
using Strata.Platform;
using Strata.Snapshots;
using Strata.Tests.Restorer;

namespace Strata.Core.Tests.Archiver;

/// <summary>The backup filters other than --gitignore, through the real archiver: what ends up in the snapshot.</summary>
public sealed class FilterTests : IAsyncLifetime
{
    private TestRepository _t = null!;

    public async Task InitializeAsync() => _t = await TestRepository.CreateAsync(null);

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private void Write(string relative, string content = "x\n") => _t.Write(relative, Encoding.UTF8.GetBytes(content));

    private async Task<SortedSet<string>> BackupAsync(FilterOptions filters)
    {
        var options = new BackupOptions { Paths = [_t.Source], Workers = 2, Filter = new Strata.Archiver.SourceFilter(filters) };
        var archiver = new Strata.Archiver.Archiver(_t.Repo, options, new BackupProgress(), new ParentTrees(_t.Repo, _t.Cache));
        BackupResult result = await archiver.RunAsync(_t.Ct);
        Node top = (await TreeOps.FindAsync(_t.Repo, result.Snapshot, _t.Source, _t.Ct))!;
        var all = new SortedSet<string>(StringComparer.Ordinal);
        await TreeOps.WalkAsync(_t.Repo, top.Subtree!.Value, "", (path, node) =>
        {
            all.Add(path[1..] + (node.Kind == FileKind.Directory ? "/" : ""));
            return Task.FromResult(true);
        }, _t.Ct);
        return all;
    }

    [Fact]
    public async Task Exclude_and_iexclude_globs()
    {
        Write("a.TMP");
        Write("b.tmp");
        Write("keep.txt");
        Write("Cache/x");
        Write("deep/cache/y");
        var got = await BackupAsync(new FilterOptions { Excludes = ["*.tmp"], ExcludesIgnoreCase = ["cache"] });
        Assert.Equal(["a.TMP", "deep/", "keep.txt"], got);
        got = await BackupAsync(new FilterOptions { ExcludesIgnoreCase = ["*.tmp"] });
        Assert.DoesNotContain("a.TMP", got);
        Assert.DoesNotContain("b.tmp", got);
        Assert.Contains("Cache/x", got);
    }

    [Fact]
    public async Task Include_overrides_excludes_even_inside_an_excluded_folder()
    {
        Write("build/out.bin");
        Write("build/keep/notes.txt");
        Write("build/keep/other.bin");
        Write("x.env");
        Write("app/.env");
        Write("app/main.c");
        var got = await BackupAsync(new FilterOptions
        {
            Excludes = ["build", "*.env"],
            Includes = [_t.Source + "/build/keep/notes.txt", ".env"],
        });
        Assert.Equal(["app/", "app/.env", "app/main.c", "build/", "build/keep/", "build/keep/notes.txt"], got);
    }

    [Fact]
    public async Task An_anchored_include_does_not_walk_unrelated_excluded_folders()
    {
        Write("node_modules/a/b.js");
        Write("src/keep.js");
        var got = await BackupAsync(new FilterOptions { Excludes = ["node_modules", "*.js"], Includes = [_t.Source + "/src/keep.js"] });
        Assert.Equal(["src/", "src/keep.js"], got);
    }

    [Fact]
    public async Task Exclude_caches_needs_the_tag_signature()
    {
        Write("cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag.\n");
        Write("cache/blob");
        Write("fake/CACHEDIR.TAG", "not a signature\n");
        Write("fake/data");
        Write("short/CACHEDIR.TAG", "Signature: 8a477f");
        Write("top.txt");
        var got = await BackupAsync(new FilterOptions { ExcludeCaches = true });
        Assert.Equal(["fake/", "fake/CACHEDIR.TAG", "fake/data", "short/", "short/CACHEDIR.TAG", "top.txt"], got);
        Assert.Contains("cache/blob", await BackupAsync(new FilterOptions()));
    }

    [Fact]
    public async Task Exclude_if_present_with_and_without_a_header()
    {
        Write("a/.nobackup", "");
        Write("a/data");
        Write("b/.marker", "STRATA-SKIP yes");
        Write("b/data");
        Write("c/.marker", "something else");
        Write("c/data");
        var got = await BackupAsync(new FilterOptions { ExcludeIfPresent = [".nobackup", ".marker:STRATA-SKIP"] });
        Assert.Equal(["c/", "c/.marker", "c/data"], got);
    }

    [Fact]
    public async Task Exclude_larger_than_applies_to_files_only()
    {
        _t.Write("big.bin", new byte[10_001]);
        _t.Write("edge.bin", new byte[10_000]);
        _t.Write("small/x.bin", new byte[10]);
        var got = await BackupAsync(new FilterOptions { ExcludeLargerThan = 10_000 });
        Assert.Equal(["edge.bin", "small/", "small/x.bin"], got);
    }

    [Fact]
    public void A_bad_exclude_if_present_name_is_a_usage_error()
    {
        var e = Assert.Throws<Strata.Repository.UserInputException>(() => new Strata.Archiver.SourceFilter(new FilterOptions { ExcludeIfPresent = ["a/b"] }));
        Assert.Contains("a/b", e.Message, StringComparison.Ordinal);
    }
}
