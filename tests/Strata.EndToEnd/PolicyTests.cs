using System.Diagnostics;
using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>Policies worm and dedup, and `strata verify`, from the command line.</summary>
public sealed class PolicyTests : IDisposable
{
    private const int WormChanged = 6;
    private const int VerifyDifferences = 7;

    private readonly Sandbox _box = new("policy");

    public void Dispose() => _box.Dispose();

    private string P(string relative) => Path.Combine(_box.Source, relative);

    private List<JsonElement> Snapshots(CliResult r)
    {
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private async Task<HashSet<string>> ListAsync()
    {
        CliResult ls = await _box.Strata("ls", "latest", _box.Source);
        CliAssert.Ok(ls);
        return ls.StdoutLines.Where(l => l.StartsWith(_box.Source + "/", StringComparison.Ordinal)).Select(l => l[(_box.Source.Length + 1)..]).ToHashSet();
    }

    [Fact]
    public async Task Worm_reports_changes_loudly_keeps_earlier_versions_and_verify_finds_bit_rot()
    {
        _box.Write("2019/a.jpg", Sandbox.RandomBytes(50_000, seed: 1));
        _box.Write("2019/b.jpg", Sandbox.RandomBytes(40_000, seed: 2));
        _box.Write("2020/c.jpg", Sandbox.RandomBytes(30_000, seed: 3));
        _box.Write("2020/d.jpg", Sandbox.RandomBytes(20_000, seed: 4));
        byte[] originalA = File.ReadAllBytes(P("2019/a.jpg"));
        await _box.InitAsync();

        CliResult first = await _box.Strata("backup", _box.Source, "--policy", "worm", "--json");
        CliAssert.Ok(first);
        Assert.Equal("worm", first.Summary.GetProperty("policy").GetString());
        string firstId = first.Summary.GetProperty("snapshot_id").GetString()!;

        // a photo edited, one deleted, one added
        _box.Write("2019/a.jpg", Sandbox.RandomBytes(51_000, seed: 5));
        File.Delete(P("2019/b.jpg"));
        _box.Write("2021/new.jpg", Sandbox.RandomBytes(10_000, seed: 6));
        CliResult second = await _box.Strata("backup", _box.Source); // the policy is remembered for the source
        CliAssert.Exit(WormChanged, second);
        CliAssert.NoStackTrace(second);
        Assert.Contains("WORM VIOLATION: 2 file(s)", second.Stderr, StringComparison.Ordinal);
        Assert.Contains($"modified  {P("2019/a.jpg")}", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("content hash changed", second.Stderr, StringComparison.Ordinal);
        Assert.Contains($"deleted   {P("2019/b.jpg")}", second.Stderr, StringComparison.Ordinal);
        Assert.Contains("1 new files noted", second.Stdout, StringComparison.Ordinal);

        CliResult snaps = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(snaps);
        JsonElement latest = Snapshots(snaps)[^1];
        Assert.Equal("worm", latest.GetProperty("policy").GetString());
        var changes = latest.GetProperty("worm_changes").EnumerateArray().Select(c => (c.GetProperty("path").GetString(), c.GetProperty("change").GetString())).ToList();
        Assert.Equal([(P("2019/a.jpg"), "modified"), (P("2019/b.jpg"), "deleted")], changes);

        CliResult report = await _box.Strata("worm", "report");
        CliAssert.Ok(report);
        Assert.Contains(P("2019/a.jpg"), report.Stdout, StringComparison.Ordinal);
        Assert.Contains(P("2019/b.jpg"), report.Stdout, StringComparison.Ordinal);
        Assert.Contains("2 files changed, deleted or replaced", report.Stdout, StringComparison.Ordinal);

        // the earlier version is intact in the first snapshot
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", firstId, "--target", target, "--include", P("2019/a.jpg")));
        Assert.Equal(originalA, File.ReadAllBytes(Sandbox.Restored(target, P("2019/a.jpg"))));

        // nothing changed since: clean again
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        CliResult clean = await _box.Strata("verify", _box.Source);
        CliAssert.Ok(clean);
        Assert.Contains("0 changed, 0 missing, 0 new", clean.Stdout, StringComparison.Ordinal);

        // bit rot: same size, mtime put back with touch
        string c = P("2020/c.jpg");
        string reference = Path.Combine(_box.Root, "mtime-ref");
        Sandbox.Run("touch", "-r", c, reference);
        using (var fs = new FileStream(c, FileMode.Open))
        {
            fs.Position = 12_345;
            fs.WriteByte(0x42);
        }
        Sandbox.Run("touch", "-r", reference, c);

        CliResult fast = await _box.Strata("verify", _box.Source, "--metadata-only");
        CliAssert.Ok(fast); // size and mtime are what the snapshot says: the fast check cannot see it

        CliResult verify = await _box.Strata("verify", _box.Source, "--json");
        CliAssert.Exit(WormChanged, verify);
        var diff = Assert.Single(verify.JsonMessages("difference"));
        Assert.Equal(c, diff.GetProperty("path").GetString());
        Assert.Equal("changed", diff.GetProperty("change").GetString());
        Assert.Contains("bit rot", diff.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("WORM VIOLATION", verify.Stderr, StringComparison.Ordinal);

        // a write through the file system also moves the ctime, so the worm backup reads the file again and sees it too
        CliResult afterRot = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Exit(WormChanged, afterRot);
        Assert.Equal(1, afterRot.Summary.GetProperty("worm_violations").GetInt32());
        Assert.Contains("size and mtime unchanged (bit rot?)", afterRot.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_without_worm_reports_differences_with_its_own_exit_code()
    {
        _box.Write("a.txt", "alpha\n");
        _box.Write("sub/b.txt", "bravo\n");
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        CliAssert.Ok(await _box.Strata("verify", P("sub")));

        _box.Write("sub/c.txt", "new\n");
        File.Delete(P("a.txt"));
        CliResult r = await _box.Strata("verify", _box.Source);
        CliAssert.Exit(VerifyDifferences, r);
        Assert.Contains($"new        {P("sub/c.txt")}", r.Stdout, StringComparison.Ordinal);
        Assert.Contains($"missing    {P("a.txt")}", r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("WORM", r.Stderr, StringComparison.Ordinal);

        CliAssert.FailsCleanly(2, await _box.Strata("verify", "/etc"), "no snapshot", "/etc");
        CliAssert.FailsCleanly(2, await _box.Strata("verify", P("nope.txt")), "not in snapshot");
        CliAssert.FailsCleanly(2, await _box.Strata("backup", _box.Source, "--policy", "bogus"), "--policy", "bogus");
    }

    [Fact]
    public async Task Dedup_honours_gitignore_and_cache_tags_by_default_and_is_remembered()
    {
        var psi = new ProcessStartInfo("git", ["init", "-q"]) { WorkingDirectory = _box.Source, UseShellExecute = false };
        using (var p = Process.Start(psi)!)
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }
        _box.Write(".gitignore", "target/\n*.log\n");
        _box.Write("src/main.rs", "fn main() {}\n");
        _box.Write("target/debug/app", "binary");
        _box.Write("run.log", "log");
        _box.Write(".cache/CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
        _box.Write(".cache/x", "cached");
        await _box.InitAsync();

        CliResult first = await _box.Strata("backup", _box.Source, "--policy", "dedup");
        CliAssert.Ok(first);
        Assert.Contains("Policy dedup", first.Stdout, StringComparison.Ordinal);
        var files = await ListAsync();
        Assert.Contains("src/main.rs", files);
        Assert.DoesNotContain("target", files);
        Assert.DoesNotContain("run.log", files);
        Assert.DoesNotContain(".cache", files);

        _box.Write("more.log", "log");
        CliAssert.Ok(await _box.Strata("backup", _box.Source)); // still dedup
        Assert.DoesNotContain("more.log", await ListAsync());

        CliAssert.Ok(await _box.Strata("backup", _box.Source, "--no-gitignore"));
        files = await ListAsync();
        Assert.Contains("more.log", files);
        Assert.DoesNotContain(".cache", files); // caches stay out

        // verify applies the snapshot's filters: ignored files are not "new"
        CliAssert.Ok(await _box.Strata("backup", _box.Source, "--policy", "dedup"));
        _box.Write("again.log", "log");
        CliAssert.Ok(await _box.Strata("verify", _box.Source));
    }
}
