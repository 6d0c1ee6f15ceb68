using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>Getting at parts of a snapshot: restore --include, dump, ls, find.</summary>
public sealed class BrowseTests : IDisposable
{
    private readonly Sandbox _box = new("browse");

    public void Dispose() => _box.Dispose();

    private async Task<string> BackupTreeAsync()
    {
        _box.Write("top.txt", "top\n");
        _box.Write("sub/b.txt", "bee\n");
        _box.Write("sub/c.bin", Sandbox.RandomBytes(2_500_000, seed: 20));
        _box.Write("sub/deep/d.txt", "dee\n");
        _box.Write("sub/deep/e.dat", "no match\n");
        await _box.InitAsync();
        CliResult r = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(r);
        return r.Summary.GetProperty("snapshot_id").GetString()!;
    }

    private static List<string> RegularFilesUnder(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public async Task Restore_with_include_of_one_file_restores_only_that_file()
    {
        await BackupTreeAsync();
        string wanted = Path.Combine(_box.Source, "sub/deep/d.txt");
        string target = _box.NewTarget("restore");
        CliResult r = await _box.Strata("restore", "latest", "--target", target, "--include", wanted);
        CliAssert.Ok(r);
        Assert.Equal([Sandbox.Restored(target, wanted)], RegularFilesUnder(target));
        var diffs = TreeComparer.Compare(wanted, Sandbox.Restored(target, wanted), new TreeComparer.Options());
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    [Fact]
    public async Task Restore_with_include_glob_restores_only_matching_files()
    {
        await BackupTreeAsync();
        string target = _box.NewTarget("restore");
        CliResult r = await _box.Strata("restore", "latest", "--target", target, "--include", "*.txt");
        CliAssert.Ok(r);
        string[] expected = ["sub/b.txt", "sub/deep/d.txt", "top.txt"];
        Assert.Equal(expected.Select(e => Sandbox.Restored(target, Path.Combine(_box.Source, e))).Order(StringComparer.Ordinal), RegularFilesUnder(target));
        foreach (string e in expected)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_box.Source, e)), File.ReadAllBytes(Sandbox.Restored(target, Path.Combine(_box.Source, e))));
        }
    }

    [Fact]
    public async Task Restore_with_exclude_leaves_out_matching_files()
    {
        await BackupTreeAsync();
        string target = _box.NewTarget("restore");
        CliResult r = await _box.Strata("restore", "latest", "--target", target, "--exclude", "deep");
        CliAssert.Ok(r);
        string[] expected = ["sub/b.txt", "sub/c.bin", "top.txt"];
        Assert.Equal(expected.Select(e => Sandbox.Restored(target, Path.Combine(_box.Source, e))).Order(StringComparer.Ordinal), RegularFilesUnder(target));
    }

    [Fact]
    public async Task Dump_writes_the_exact_bytes_of_a_file_to_stdout()
    {
        await BackupTreeAsync();
        string file = Path.Combine(_box.Source, "sub/c.bin");
        CliResult r = await _box.Strata("dump", "latest", file);
        CliAssert.Ok(r);
        Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(r.StdoutBytes), $"dump printed {r.StdoutBytes.Length} bytes, the file has {new FileInfo(file).Length}");

        CliResult small = await _box.Strata("dump", "latest", Path.Combine(_box.Source, "top.txt"));
        CliAssert.Ok(small);
        Assert.Equal("top\n", small.Stdout);
    }

    [Fact]
    public async Task Dump_of_a_folder_or_a_missing_path_fails_with_a_message()
    {
        await BackupTreeAsync();
        CliAssert.FailsCleanly(2, await _box.Strata("dump", "latest", Path.Combine(_box.Source, "sub")), "not a file");
        CliAssert.FailsCleanly(2, await _box.Strata("dump", "latest", Path.Combine(_box.Source, "nope.txt")), "not in snapshot");
    }

    [Fact]
    public async Task Ls_lists_every_path_and_only_below_a_given_folder()
    {
        await BackupTreeAsync();
        string src = _box.Source;
        string[] all = ["top.txt", "sub", "sub/b.txt", "sub/c.bin", "sub/deep", "sub/deep/d.txt", "sub/deep/e.dat"];

        CliResult r = await _box.Strata("ls", "latest");
        CliAssert.Ok(r);
        var lines = r.StdoutLines.ToHashSet(StringComparer.Ordinal);
        foreach (string rel in all)
        {
            Assert.True(lines.Contains(Path.Combine(src, rel)), $"ls does not list {rel}\n{r}");
        }
        Assert.Contains(src, lines);
        Assert.Equal(r.StdoutLines.Length, lines.Count); // no path twice

        string sub = Path.Combine(src, "sub");
        CliResult below = await _box.Strata("ls", "latest", sub);
        CliAssert.Ok(below);
        var subLines = below.StdoutLines.ToList();
        Assert.All(subLines, l => Assert.StartsWith(sub, l, StringComparison.Ordinal));
        foreach (string rel in all.Where(a => a.StartsWith("sub/", StringComparison.Ordinal)))
        {
            Assert.Contains(Path.Combine(src, rel), subLines);
        }
        Assert.DoesNotContain(Path.Combine(src, "top.txt"), subLines);

        CliResult longForm = await _box.Strata("ls", "latest", sub, "-l");
        CliAssert.Ok(longForm);
        string cLine = Assert.Single(longForm.StdoutLines, l => l.EndsWith("/sub/c.bin", StringComparison.Ordinal));
        Assert.Contains("2500000", cLine, StringComparison.Ordinal);
        Assert.StartsWith("-rw-r--r--", cLine, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_names_the_snapshots_that_contain_matches()
    {
        string withTxt = await BackupTreeAsync();
        string other = Path.Combine(_box.Root, "other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "picture.jpg"), "jpeg");
        CliResult o = await _box.Strata("backup", other, "--json");
        CliAssert.Ok(o);
        string withoutTxt = o.Summary.GetProperty("snapshot_id").GetString()!;

        CliResult r = await _box.Strata("find", "*.txt");
        CliAssert.Ok(r);
        Assert.Contains(withTxt[..8], r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(withoutTxt[..8], r.Stdout, StringComparison.Ordinal);
        foreach (string rel in new[] { "top.txt", "sub/b.txt", "sub/deep/d.txt" })
        {
            Assert.Contains(Path.Combine(_box.Source, rel), r.Stdout, StringComparison.Ordinal);
        }
        Assert.DoesNotContain("e.dat", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("c.bin", r.Stdout, StringComparison.Ordinal);

        CliResult json = await _box.Strata("find", "*.jpg", "--json");
        CliAssert.Ok(json);
        JsonElement hit = Assert.Single(json.JsonLines());
        Assert.Equal(withoutTxt, hit.GetProperty("snapshot").GetString());
        Assert.Equal(Path.Combine(other, "picture.jpg"), hit.GetProperty("path").GetString());

        CliResult none = await _box.Strata("find", "*.nothing-has-this");
        CliAssert.Ok(none);
        Assert.Empty(none.StdoutLines);
    }

    [Fact]
    public async Task A_snapshot_can_be_named_by_a_unique_id_prefix()
    {
        string id = await BackupTreeAsync();
        CliResult r = await _box.Strata("dump", id[..6], Path.Combine(_box.Source, "top.txt"));
        CliAssert.Ok(r);
        Assert.Equal("top\n", r.Stdout);
        CliAssert.FailsCleanly(2, await _box.Strata("ls", "ffffffffffff"), "no snapshot");
    }
}
