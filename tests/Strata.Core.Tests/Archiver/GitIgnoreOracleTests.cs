using System.Diagnostics;
using System.Text;
using Strata.Archiver;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Tests.Restorer;

namespace Strata.Core.Tests.Archiver;

/// <summary>
/// --gitignore against real git: a work tree with tricky ignore rules is backed up through the real archiver, and
/// the set of files in the snapshot must equal the files git does not ignore (`git check-ignore --no-index`).
/// </summary>
public sealed class GitIgnoreOracleTests : IAsyncLifetime
{
    private TestRepository _t = null!;
    private string _home = null!;

    public async Task InitializeAsync()
    {
        _t = await TestRepository.CreateAsync(null);
        _home = Path.Combine(_t.Root, "home");
        Directory.CreateDirectory(_home);
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private GitExcludeSources.GitEnvironment GitEnv => new(_home, Path.Combine(_home, "xdg"), NoSystem: true);

    private string Git(string workTree, params string[] args) => Run(workTree, null, args);

    private string Run(string workTree, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false, WorkingDirectory = workTree };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["HOME"] = _home;
        psi.Environment["XDG_CONFIG_HOME"] = Path.Combine(_home, "xdg");
        psi.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        psi.Environment.Remove("GIT_DIR");
        psi.Environment.Remove("GIT_WORK_TREE");
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        // check-ignore exits 1 when nothing is ignored
        Assert.True(p.ExitCode == 0 || (args[0] == "check-ignore" && p.ExitCode == 1), $"git {string.Join(' ', args)} failed ({p.ExitCode}): {err.Result}");
        return output;
    }

    private void Write(string relative, string content = "x\n") => _t.Write(relative, Encoding.UTF8.GetBytes(content));

    /// <summary>Every file, symlink and empty folder under the work tree (relative paths, folders with a trailing '/'), without .git.</summary>
    private static SortedSet<string> AllEntries(string root)
    {
        var all = new SortedSet<string>(StringComparer.Ordinal);
        void Walk(string dir, string rel)
        {
            foreach (var e in Posix.ReadDirectory(Posix.ToBytes(dir)))
            {
                string name = Posix.Display(e.Name);
                if (rel.Length == 0 && name == ".git")
                {
                    continue;
                }
                string full = Path.Combine(dir, name);
                string r = rel.Length == 0 ? name : rel + "/" + name;
                if (Posix.LStat(Posix.ToBytes(full)).Kind == FileKind.Directory)
                {
                    Walk(full, r);
                }
                else
                {
                    all.Add(r);
                }
            }
        }
        Walk(root, "");
        return all;
    }

    /// <summary>git's view: the files check-ignore does not report (it reports files inside ignored folders too).</summary>
    private SortedSet<string> GitView(string root)
    {
        SortedSet<string> all = AllEntries(root);
        string output = Run(root, string.Join('\0', all) + "\0", "check-ignore", "--no-index", "--stdin", "-z");
        var ignored = output.Split('\0', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(ignored);
        all.ExceptWith(ignored);
        return all;
    }

    private async Task<(SortedSet<string> Files, List<string> Warnings)> BackupViewAsync(FilterOptions filters, string root)
    {
        var warnings = new List<string>();
        var filter = new Strata.Archiver.SourceFilter(filters, w =>
        {
            lock (warnings)
            {
                warnings.Add(w);
            }
        }, GitEnv);
        var options = new BackupOptions { Paths = [root], Workers = 2, Filter = filter };
        var archiver = new Strata.Archiver.Archiver(_t.Repo, options, new BackupProgress(), new ParentTrees(_t.Repo, _t.Cache));
        BackupResult result = await archiver.RunAsync(_t.Ct);
        Node? top = await TreeOps.FindAsync(_t.Repo, result.Snapshot, root, _t.Ct);
        Assert.NotNull(top);
        var files = new SortedSet<string>(StringComparer.Ordinal);
        await TreeOps.WalkAsync(_t.Repo, top.Subtree!.Value, "", (path, node) =>
        {
            if (node.Kind != FileKind.Directory)
            {
                files.Add(path[1..]);
            }
            return Task.FromResult(!(path == "/.git"));
        }, _t.Ct);
        files.RemoveWhere(f => f.StartsWith(".git/", StringComparison.Ordinal));
        return (files, warnings);
    }

    private void BuildTrickyTree()
    {
        string src = _t.Source;
        Git(src, "init", "-q");
        // Root rules: every line exercises one part of gitignore(5).
        Write(".gitignore", string.Join('\n',
        [
            "# a comment, then a blank line",
            "",
            "*.log",
            "!keep.log",
            "build/",
            "/anchored.txt",
            "docs/**/*.tmp",
            "\\#hash.txt",
            "trailing.txt   ",
            "space\\ ",
            "**/cache",
            "logs/",
            "!logs/important.log",
            "foo**bar",
            "*.o",
            "!/lib/*.o",
            "w!x.txt",
            "a^b.txt",
            "/*.c",
            "deep/**/leaf",
            "[abc",
            "trailing\\",
            "\\!bang.txt",
            "",
        ]));
        Write("sub/.gitignore", "!*.log\n/local.txt\ndeep/\n");
        Write("sub/inner/.gitignore", "*.txt\n!keep.txt\r\n");
        Directory.CreateDirectory(Path.Combine(src, ".git", "info"));
        File.WriteAllText(Path.Combine(src, ".git", "info", "exclude"), "secret.key\n");
        Directory.CreateDirectory(Path.Combine(_home, "xdg", "git"));
        File.WriteAllText(Path.Combine(_home, "xdg", "git", "ignore"), "*.swp\n");

        foreach (string f in new[]
        {
            "a.log", "keep.log", "x/keep.log", "sub/b.log", "sub/x/c.log",
            "build/out.bin", "src/build/x.bin", "other/build",
            "anchored.txt", "sub/anchored.txt",
            "docs/x.tmp", "docs/a/b/x.tmp", "docs/a/b/x.txt", "x/docs/y.tmp",
            "#hash.txt", "hash.txt", "trailing.txt", "space ", "space",
            "x/cache/y", "cache", "logs/important.log", "logs/other", "x/logs",
            "foo-bar", "fooXbar", "foo/bar",
            "a.o", "lib/a.o", "lib/sub/b.o",
            "sub/local.txt", "sub/y/local.txt", "sub/deep/z", "sub/deeper/z",
            "sub/inner/a.txt", "sub/inner/keep.txt", "sub/inner/a.md",
            "secret.key", "x/secret.key", "a.swp",
            "w!x.txt", "wx.txt", "a^b.txt", "ab.txt",
            "top.c", "x/nested.c",
            "deep/leaf", "deep/a/b/leaf", "x/deep/a/leaf",
            "abc", "[abc", "trailing", "!bang.txt", "bang.txt",
            "plain.txt",
        })
        {
            Write(f);
        }
        File.CreateSymbolicLink(Path.Combine(src, "link.log"), "a.log");
        File.CreateSymbolicLink(Path.Combine(src, "linkdir"), "build");
    }

    [Fact]
    public async Task The_snapshot_holds_exactly_the_files_git_does_not_ignore()
    {
        BuildTrickyTree();
        SortedSet<string> expected = GitView(_t.Source);
        var (actual, warnings) = await BackupViewAsync(new FilterOptions { GitIgnore = true }, _t.Source);

        Assert.True(expected.SetEquals(actual),
            $"only in git's view: {string.Join(", ", expected.Except(actual))}\nonly in the snapshot: {string.Join(", ", actual.Except(expected))}");
        // sanity: the tricky cases really are on both sides of the line
        Assert.Contains("keep.log", actual);
        Assert.Contains("sub/b.log", actual);
        Assert.DoesNotContain("logs/important.log", actual); // cannot be re-included inside an excluded folder
        Assert.DoesNotContain("secret.key", actual);          // .git/info/exclude
        Assert.DoesNotContain("a.swp", actual);               // the global excludes file
        Assert.Contains("other/build", actual);               // "build/" matches folders only
        Assert.Contains("sub/anchored.txt", actual);
        Assert.DoesNotContain("space ", actual);
        Assert.Contains("space", actual);
        Assert.DoesNotContain("#hash.txt", actual);

        // The two invalid patterns are warned about with file and line; the rest was applied.
        string gi = Path.Combine(_t.Source, ".gitignore");
        Assert.Contains(warnings, w => w.StartsWith($"{gi}:21:", StringComparison.Ordinal) && w.Contains("[abc", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith($"{gi}:22:", StringComparison.Ordinal) && w.Contains("backslash", StringComparison.Ordinal));
        Assert.Equal(2, warnings.Count);
    }

    [Fact]
    public async Task A_path_inside_a_work_tree_gets_the_rules_of_the_folders_above_it()
    {
        BuildTrickyTree();
        string sub = Path.Combine(_t.Source, "sub");
        SortedSet<string> expected = new(GitView(_t.Source).Where(f => f.StartsWith("sub/", StringComparison.Ordinal)).Select(f => f[4..]), StringComparer.Ordinal);
        var (actual, _) = await BackupViewAsync(new FilterOptions { GitIgnore = true }, sub);
        Assert.True(expected.SetEquals(actual),
            $"only in git's view: {string.Join(", ", expected.Except(actual))}\nonly in the snapshot: {string.Join(", ", actual.Except(expected))}");
        Assert.DoesNotContain("secret.key", actual.Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_global_excludes_file_comes_from_core_excludesFile_when_set()
    {
        BuildTrickyTree();
        File.WriteAllText(Path.Combine(_home, "my-ignores"), "plain.txt\n");
        File.WriteAllText(Path.Combine(_home, ".gitconfig"), "[user]\n\tname = x\n[core]\n\texcludesFile = ~/my-ignores ; a comment\n");
        SortedSet<string> expected = GitView(_t.Source);
        var (actual, _) = await BackupViewAsync(new FilterOptions { GitIgnore = true }, _t.Source);
        Assert.True(expected.SetEquals(actual),
            $"only in git's view: {string.Join(", ", expected.Except(actual))}\nonly in the snapshot: {string.Join(", ", actual.Except(expected))}");
        Assert.DoesNotContain("plain.txt", actual);
        Assert.Contains("a.swp", actual); // the XDG default is not read once core.excludesFile is set
    }

    [Fact]
    public async Task A_nested_repository_uses_its_own_rules_only()
    {
        BuildTrickyTree();
        string inner = Path.Combine(_t.Source, "vendor", "lib");
        Directory.CreateDirectory(inner);
        Git(inner, "init", "-q");
        File.WriteAllText(Path.Combine(inner, ".gitignore"), "*.tmp\n");
        File.WriteAllText(Path.Combine(inner, "a.log"), "x"); // ignored by the outer *.log, but the outer rules stop at a work tree root
        File.WriteAllText(Path.Combine(inner, "b.tmp"), "x");
        File.WriteAllText(Path.Combine(inner, "c.txt"), "x");
        SortedSet<string> innerView = GitView(inner);
        var (actual, _) = await BackupViewAsync(new FilterOptions { GitIgnore = true }, _t.Source);
        var actualInner = actual.Where(f => f.StartsWith("vendor/lib/", StringComparison.Ordinal)).Select(f => f["vendor/lib/".Length..])
            .Where(f => !f.StartsWith(".git/", StringComparison.Ordinal)).ToHashSet();
        Assert.True(innerView.SetEquals(actualInner), $"git: {string.Join(", ", innerView)}; snapshot: {string.Join(", ", actualInner)}");
        Assert.Contains(actual, f => f.StartsWith("vendor/lib/.git/", StringComparison.Ordinal)); // history is backed up
    }
}
