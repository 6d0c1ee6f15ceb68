using System.Diagnostics;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>The backup filters from the command line: what `strata ls` shows afterwards, and bad input.</summary>
public sealed class FilterTests : IDisposable
{
    private readonly Sandbox _box = new("filters");

    public void Dispose() => _box.Dispose();

    private static void Git(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }

    private async Task<HashSet<string>> ListAsync(string snapshot)
    {
        CliResult ls = await _box.Strata("ls", snapshot, _box.Source);
        CliAssert.Ok(ls);
        return ls.StdoutLines.Where(l => l.StartsWith(_box.Source + "/", StringComparison.Ordinal)).Select(l => l[(_box.Source.Length + 1)..]).ToHashSet();
    }

    [Fact]
    public async Task Every_filter_option_from_the_command_line()
    {
        Git(_box.Source, "init", "-q");
        _box.Write(".gitignore", "*.o\nbuild/\n[oops\n!keep.o\n");
        _box.Write("main.c", "int main;\n");
        _box.Write("main.o", "obj");
        _box.Write("keep.o", "obj");
        _box.Write("build/x", "x");
        _box.Write("Thumbs.DB", "x");
        _box.Write("big.iso", Sandbox.RandomBytes(3000, seed: 1));
        _box.Write("photos/a.jpg", "jpg");
        _box.Write(".cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
        _box.Write(".cache/blob", "x");
        _box.Write("private/.nobackup", "");
        _box.Write("private/diary", "x");
        _box.Write("notes.tmp", "x");
        _box.Write("excludes.txt", "# comment\n*.tmp\n");
        string excludeFile = Path.Combine(_box.Root, "excludes.txt");
        File.Copy(Path.Combine(_box.Source, "excludes.txt"), excludeFile);
        await _box.InitAsync();

        CliResult r = await _box.Strata("backup", _box.Source, "--gitignore", "--iexclude", "thumbs.db", "--exclude-file", excludeFile,
            "--exclude-caches", "--exclude-if-present", ".nobackup", "--exclude-larger-than", "2K", "--include", "*.iso");
        CliAssert.Ok(r);
        // the invalid line is named with file and line, and the rest of the file still applies
        Assert.Contains($"{_box.Source}/.gitignore:3:", r.Stderr, StringComparison.Ordinal);
        CliAssert.NoStackTrace(r);

        var files = await ListAsync("latest");
        Assert.Contains("main.c", files);
        Assert.Contains("keep.o", files);
        Assert.Contains("big.iso", files);        // --include wins over --exclude-larger-than
        Assert.Contains("photos/a.jpg", files);
        Assert.Contains(".git", files);           // history is always kept
        Assert.Contains("excludes.txt", files);
        foreach (string gone in new[] { "main.o", "build", "build/x", "Thumbs.DB", ".cache", ".cache/blob", "private", "notes.tmp" })
        {
            Assert.DoesNotContain(gone, files);
        }

        // the filters are recorded in the snapshot
        CliResult snaps = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(snaps);
        Assert.Contains("\"git_ignore\":true", snaps.Stdout.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_filter_input_is_a_usage_error()
    {
        _box.Write("a.txt", "x");
        await _box.InitAsync();
        CliAssert.FailsCleanly(2, await _box.Strata("backup", _box.Source, "--exclude-larger-than", "lots"), "--exclude-larger-than", "lots");
        CliAssert.FailsCleanly(2, await _box.Strata("backup", _box.Source, "--exclude", "abc[def"), "abc[def");
        CliAssert.FailsCleanly(2, await _box.Strata("backup", _box.Source, "--exclude-file", "/nonexistent/list"), "/nonexistent/list");
        CliAssert.FailsCleanly(2, await _box.Strata("backup", _box.Source, "--exclude-if-present", "a/b"), "a/b");
    }
}
