using System.Text.RegularExpressions;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>A missing or damaged repository: clear messages, the right exit codes, and everything undamaged still restores.</summary>
public sealed partial class RepositoryDamageTests : IDisposable
{
    private readonly Sandbox _box = new("damage");

    public void Dispose() => _box.Dispose();

    [GeneratedRegex(@"^error: could not restore (?<path>.+?): ", RegexOptions.Multiline)]
    private static partial Regex RestoreFailureLine();

    [GeneratedRegex(@"used by (?<path>/\S+)")]
    private static partial Regex UsedBy();

    private static readonly string[] Files = ["f1.bin", "f2.bin", "f3.bin", "f4.bin", "f5.bin", "f6.bin", "small.txt", "sub/g.bin", "sub/tiny.txt"];

    /// <summary>Several MiB of incompressible data in packs of about 4 MiB, so damage to one pack hits some files and not others.</summary>
    private async Task BackupSeveralPacksAsync()
    {
        for (int i = 1; i <= 6; i++)
        {
            _box.Write($"f{i}.bin", Sandbox.RandomBytes(3_000_000, seed: 40 + i));
        }
        _box.Write("small.txt", "small\n");
        _box.Write("sub/g.bin", Sandbox.RandomBytes(2_000_000, seed: 50));
        _box.Write("sub/tiny.txt", "tiny\n");
        await _box.InitAsync("--pack-size", "4MiB");
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        CliAssert.Ok(await _box.Strata("check", "--read-data"));
    }

    private string LargestDataPack() =>
        Directory.EnumerateFiles(Path.Combine(_box.Repo, "data"), "*", SearchOption.AllDirectories)
            .OrderByDescending(f => new FileInfo(f).Length).ThenBy(f => f, StringComparer.Ordinal).First();

    private HashSet<string> RestoreFailures(CliResult r) =>
        RestoreFailureLine().Matches(r.Stderr).Select(m => m.Groups["path"].Value).ToHashSet(StringComparer.Ordinal);

    /// <summary>Every file not in <paramref name="failed"/> restored byte for byte with its metadata; each failed one is a real source file.</summary>
    private void AssertEverythingElseRestored(string target, HashSet<string> failed)
    {
        var relFailed = failed.Select(f => Path.GetRelativePath(_box.Source, f)).ToHashSet(StringComparer.Ordinal);
        Assert.All(relFailed, f => Assert.Contains(f, Files));
        Assert.True(relFailed.Count < Files.Length, "nothing was restored");
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source), new TreeComparer.Options { Skip = relFailed });
    }

    [Fact]
    public async Task No_repository_at_the_path_exits_10()
    {
        string nowhere = Path.Combine(_box.Root, "no-such-repo");
        foreach (string[] args in new[] { ["snapshots"], ["backup", _box.Source], ["check"], new[] { "key", "list" } })
        {
            CliResult r = await Cli.RunAsync(["--repo", nowhere, .. args], _box.Env());
            CliAssert.FailsCleanly(10, r, "no repository", nowhere);
        }
        // an existing, empty folder is not a repository either
        Directory.CreateDirectory(_box.Repo);
        CliAssert.FailsCleanly(10, await _box.Strata("snapshots"), "no repository");
        // and STRATA_REPOSITORY is honoured like --repo
        var env = _box.Env();
        env["STRATA_REPOSITORY"] = nowhere;
        CliAssert.FailsCleanly(10, await Cli.RunAsync(["snapshots"], env), "no repository", nowhere);
    }

    [Fact]
    public async Task A_corrupt_config_is_reported_by_name_with_exit_1()
    {
        _box.Write("f.txt", "x");
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        File.WriteAllBytes(Path.Combine(_box.Repo, "config"), Sandbox.RandomBytes(300, seed: 60));
        foreach (string[] args in new[] { ["snapshots"], ["backup", _box.Source], ["restore", "latest", "--target", Path.Combine(_box.Root, "t")], new[] { "check" } })
        {
            CliAssert.FailsCleanly(1, await _box.Strata(args), "config");
        }
        File.WriteAllText(Path.Combine(_box.Repo, "config"), "{\"version\": 1}");
        CliAssert.FailsCleanly(1, await _box.Strata("snapshots"), "config");
        File.WriteAllBytes(Path.Combine(_box.Repo, "config"), []);
        CliAssert.FailsCleanly(1, await _box.Strata("snapshots"), "config");
    }

    [Fact]
    public async Task Init_refuses_to_overwrite_an_existing_repository()
    {
        await _box.InitAsync();
        byte[] config = File.ReadAllBytes(Path.Combine(_box.Repo, "config"));
        CliAssert.FailsCleanly(2, await _box.Strata("init"), "already exists");
        Assert.Equal(config, File.ReadAllBytes(Path.Combine(_box.Repo, "config")));
    }

    [Fact]
    public async Task A_truncated_pack_is_reported_by_check_and_restore_saves_everything_else()
    {
        await BackupSeveralPacksAsync();
        string pack = LargestDataPack();
        string packId = Path.GetFileName(pack);
        using (var fs = new FileStream(pack, FileMode.Open, FileAccess.Write))
        {
            fs.SetLength(fs.Length / 2);
        }

        CliResult check = await _box.Strata("check");
        CliAssert.Exit(4, check);
        CliAssert.NoStackTrace(check);
        Assert.True(check.Stdout.Contains(packId, StringComparison.Ordinal), $"check does not name the truncated pack {packId}\n{check}");

        CliResult readData = await _box.Strata("check", "--read-data");
        CliAssert.Exit(4, readData);
        CliAssert.NoStackTrace(readData);
        Assert.Contains(packId, readData.Stdout, StringComparison.Ordinal);

        string target = _box.NewTarget("restore");
        CliResult restore = await _box.Strata("restore", "latest", "--target", target);
        CliAssert.Exit(4, restore);
        CliAssert.NoStackTrace(restore);
        var failed = RestoreFailures(restore);
        Assert.True(failed.Count > 0, $"restore names no file it could not restore\n{restore}");
        AssertEverythingElseRestored(target, failed);
    }

    [Fact]
    public async Task A_flipped_bit_in_a_pack_is_traced_to_its_file_and_everything_else_restores()
    {
        await BackupSeveralPacksAsync();
        string pack = LargestDataPack();
        string packId = Path.GetFileName(pack);
        using (var fs = new FileStream(pack, FileMode.Open, FileAccess.ReadWrite))
        {
            long middle = fs.Length / 2;
            fs.Position = middle;
            int b = fs.ReadByte();
            fs.Position = middle;
            fs.WriteByte((byte)(b ^ 0x10));
        }

        // the structure is intact: only reading the data finds it
        CliResult quick = await _box.Strata("check");
        CliAssert.NoStackTrace(quick);

        CliResult check = await _box.Strata("check", "--read-data");
        CliAssert.Exit(4, check);
        CliAssert.NoStackTrace(check);
        Assert.True(check.Stdout.Contains(packId, StringComparison.Ordinal), $"check --read-data does not name the damaged pack {packId}\n{check}");
        var named = UsedBy().Matches(check.Stdout).Select(m => m.Groups["path"].Value.TrimEnd(';', ',', '.')).ToHashSet(StringComparer.Ordinal);
        Assert.True(named.Count >= 1, $"check --read-data names no affected file\n{check}");
        Assert.All(named, p => Assert.Contains(Path.GetRelativePath(_box.Source, p), Files));

        string target = _box.NewTarget("restore");
        CliResult restore = await _box.Strata("restore", "latest", "--target", target);
        CliAssert.Exit(4, restore);
        CliAssert.NoStackTrace(restore);
        var failed = RestoreFailures(restore);
        Assert.True(failed.SetEquals(named), $"restore failed on [{string.Join(", ", failed)}], check named [{string.Join(", ", named)}]\n{restore}");
        AssertEverythingElseRestored(target, failed);
    }

    [Fact]
    public async Task An_undamaged_repository_checks_clean_and_restores_fully()
    {
        // the control for the damage tests above (BackupSeveralPacksAsync already ran check --read-data)
        await BackupSeveralPacksAsync();
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }
}
