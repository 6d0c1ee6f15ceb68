using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// Backups of a stream: standard input (--stdin) and a shell command's output (--stdin-from-command), with the
/// file's name (--stdin-filename), read back with strata dump. A command that fails, even after writing data,
/// saves no snapshot: latest stays the last good one, the error shows the command's own error output.
/// </summary>
public sealed class StreamSourceTests : IDisposable
{
    private readonly Sandbox _box = new("stream");

    public void Dispose() => _box.Dispose();

    private async Task<List<JsonElement>> SnapshotsAsync()
    {
        var r = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    [Fact]
    public async Task Stdin_is_backed_up_as_one_file_and_dumped_back_byte_for_byte()
    {
        await _box.InitAsync();
        // 12 MB: cut points depend on the repository's secret gear table, so only the 8 MiB maximum chunk size
        // guarantees a cut before the end (at 3.6 MB or later), which the appended run must reuse.
        byte[] first = Sandbox.RandomBytes(12_000_000, seed: 1);
        var backup = await _box.StrataInput(first, "backup", "--stdin", "--stdin-filename", "photos.tar", "--json");
        CliAssert.Ok(backup);
        Assert.Equal("stdin", backup.Summary.GetProperty("source").GetString());
        Assert.Equal("/photos.tar", backup.Summary.GetProperty("path").GetString());
        Assert.Equal(first.Length, backup.Summary.GetProperty("bytes_read").GetInt64());

        var dump = await _box.Strata("dump", "latest", "/photos.tar");
        CliAssert.Ok(dump);
        Assert.True(first.AsSpan().SequenceEqual(dump.StdoutBytes), "dump gives back what --stdin read");
        // the name alone works too
        var byName = await _box.Strata("dump", "latest", "photos.tar");
        CliAssert.Ok(byName);
        Assert.True(first.AsSpan().SequenceEqual(byName.StdoutBytes));

        // a second run of the same name is the next version of the same source, and deduplicates what is unchanged
        byte[] second = [.. first, .. Sandbox.RandomBytes(100_000, seed: 2)];
        var again = await _box.StrataInput(second, "backup", "--stdin", "--stdin-filename", "photos.tar", "--json");
        CliAssert.Ok(again);
        Assert.Equal(2, again.Summary.GetProperty("version").GetInt32());
        Assert.True(again.Summary.GetProperty("data_added").GetInt64() <= second.Length - (12_000_000 - (8 << 20)), again.ToString());
        var snaps = await SnapshotsAsync();
        Assert.Equal(2, snaps.Count);
        Assert.All(snaps, s => Assert.Equal("/photos.tar", s.GetProperty("paths")[0].GetString()));
        Assert.Equal("stdin", snaps[1].GetProperty("source").GetProperty("kind").GetString());

        // restore into a folder gives the file, private to its owner
        string target = _box.NewTarget("restored");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        Assert.True(second.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(target, "photos.tar"))));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(target, "photos.tar")));
    }

    [Fact]
    public async Task Command_output_is_streamed_in_and_named_stdin_by_default()
    {
        await _box.InitAsync();
        byte[] data = Sandbox.RandomBytes(2_500_000, seed: 3);
        string file = _box.Write("data.bin", data);
        var backup = await _box.Strata("backup", "--stdin-from-command", $"cat '{file}'; echo 'a warning' >&2");
        CliAssert.Ok(backup);
        Assert.Contains("a warning", backup.Stderr);
        var dump = await _box.Strata("dump", "latest", "/stdin");
        CliAssert.Ok(dump);
        Assert.True(data.AsSpan().SequenceEqual(dump.StdoutBytes));
        var snaps = await SnapshotsAsync();
        Assert.Equal("command", snaps.Single().GetProperty("source").GetProperty("kind").GetString());
    }

    [Fact]
    public async Task A_command_that_fails_after_writing_data_saves_no_snapshot_and_shows_its_error()
    {
        await _box.InitAsync();
        byte[] good = Sandbox.RandomBytes(1_000_000, seed: 4);
        CliAssert.Ok(await _box.StrataInput(good, "backup", "--stdin", "--stdin-filename", "db.dump"));

        // 3 MB of output, then an error message and exit status 1: a dump that broke halfway
        string script = _box.Write("half.sh", "head -c 3000000 /dev/urandom\necho 'dump: lost connection to the server' >&2\nexit 1\n");
        var failed = await _box.Strata("backup", "--stdin-from-command", $"sh '{script}'", "--stdin-filename", "db.dump");
        CliAssert.FailsCleanly(1, failed, "exited with status 1", "after writing 2.9 MiB", "no snapshot was saved", "dump: lost connection to the server");

        // killed by a signal halfway
        var killed = await _box.Strata("backup", "--stdin-from-command", "head -c 500000 /dev/zero; kill -9 $$", "--stdin-filename", "db.dump");
        CliAssert.FailsCleanly(1, killed, "killed by signal 9", "no snapshot was saved");

        // a command that does not exist
        var missing = await _box.Strata("backup", "--stdin-from-command", "no-such-dump-tool --all", "--stdin-filename", "db.dump");
        CliAssert.FailsCleanly(1, missing, "status 127", "before writing anything", "no-such-dump-tool");

        var snaps = await SnapshotsAsync();
        Assert.Single(snaps);
        var dump = await _box.Strata("dump", "latest", "db.dump");
        CliAssert.Ok(dump);
        Assert.True(good.AsSpan().SequenceEqual(dump.StdoutBytes), "latest is still the last good backup");
        var check = await _box.Strata("check", "--read-data");
        CliAssert.Ok(check);

        // the next good run works and is version 2 of the source
        var next = await _box.Strata("backup", "--stdin-from-command", "head -c 200000 /dev/zero", "--stdin-filename", "db.dump", "--json");
        CliAssert.Ok(next);
        Assert.Equal(2, next.Summary.GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task A_copied_stream_snapshot_keeps_its_source_and_its_series_of_versions()
    {
        await _box.InitAsync();
        byte[] data = Sandbox.RandomBytes(1_200_000, seed: 5);
        CliAssert.Ok(await _box.StrataInput(data, "backup", "--stdin", "--stdin-filename", "db.dump"));
        string target = Path.Combine(_box.Root, "target-repo");
        var targetEnv = _box.Env("target passphrase");
        CliAssert.Ok(await Cli.RunAsync(["--repo", target, "init"], targetEnv));
        CliAssert.Ok(await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", target], new Dictionary<string, string?>(_box.Env()) { ["STRATA_TO_PASSWORD"] = "target passphrase" }));

        var dump = await Cli.RunAsync(["--repo", target, "dump", "latest", "db.dump"], targetEnv);
        CliAssert.Ok(dump);
        Assert.True(data.AsSpan().SequenceEqual(dump.StdoutBytes));
        // the next stream backup into the target continues the copied snapshot's versions
        var next = await Cli.RunAsync(["--repo", target, "backup", "--stdin", "--stdin-filename", "db.dump", "--json"], targetEnv, stdin: data);
        CliAssert.Ok(next);
        Assert.Equal(2, next.Summary.GetProperty("version").GetInt32());
        var list = await Cli.RunAsync(["--repo", target, "snapshots", "--json"], targetEnv);
        CliAssert.Ok(list);
        using var doc = JsonDocument.Parse(list.Stdout);
        Assert.All(doc.RootElement.EnumerateArray(), e => Assert.Equal("stdin", e.GetProperty("source").GetProperty("kind").GetString()));
    }

    [Fact]
    public async Task Stdin_with_the_passphrase_expected_on_stdin_is_refused()
    {
        await _box.InitAsync();
        var env = _box.Env(password: null);
        var r = await Cli.RunAsync(["--repo", _box.Repo, "backup", "--stdin"], env, stdin: [1, 2, 3]);
        CliAssert.FailsCleanly(2, r, "--stdin", "--password-file", "STRATA_PASSWORD");
    }

    [Theory]
    [InlineData("--stdin and --stdin-from-command", "backup", "--stdin", "--stdin-from-command", "true")]
    [InlineData("not files", "backup", "--stdin", "/etc/hostname")]
    [InlineData("plain file name", "backup", "--stdin", "--stdin-filename", "a/b")]
    [InlineData("plain file name", "backup", "--stdin", "--stdin-filename", "..")]
    [InlineData("use it with --stdin", "backup", "--stdin-filename", "x", "/etc/hostname")]
    [InlineData("the command is empty", "backup", "--stdin-from-command", " ")]
    [InlineData("what should be backed up", "backup")]
    [InlineData("--exclude applies to a backup of files and folders, not to a stream (--stdin)", "backup", "--stdin", "--exclude", "*.tmp")]
    [InlineData("--policy applies to a backup of files and folders", "backup", "--stdin-from-command", "true", "--policy", "worm")]
    public async Task Bad_stream_options_are_usage_errors(string fragment, params string[] args)
    {
        await _box.InitAsync();
        var r = await _box.StrataInput([1, 2, 3], args);
        CliAssert.FailsCleanly(2, r, fragment);
        Assert.Empty(await SnapshotsAsync());
    }
}
