using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// A writer key adds backups and deduplicates, but reads nothing back. Its change detection comes from its own
/// local cache (in its XDG_CACHE_HOME), since it cannot decrypt earlier trees.
/// </summary>
public sealed class WriterKeyTests : IDisposable
{
    private const string WriterPassword = "the writer's passphrase";

    private readonly Sandbox _box = new("writer");
    private readonly string _writerCache;

    public WriterKeyTests()
    {
        _writerCache = Path.Combine(_box.Root, "writer-cache");
        Directory.CreateDirectory(_writerCache);
    }

    public void Dispose() => _box.Dispose();

    private static int? UnchangedSince(System.Text.Json.JsonElement e) =>
        e.TryGetProperty("unchanged_since", out var u) && u.ValueKind == System.Text.Json.JsonValueKind.Number ? u.GetInt32() : null;

    private Dictionary<string, string?> WriterEnv => _box.Env(WriterPassword, _writerCache);

    private const int FileCount = 5;

    private async Task SetUpAsync()
    {
        _box.Write("a.bin", Sandbox.RandomBytes(1_200_000, seed: 30));
        _box.Write("b.txt", "bravo\n");
        _box.Write("dir/c.bin", Sandbox.RandomBytes(700_000, seed: 31));
        _box.Write("dir/d.txt", "delta\n");
        _box.Write("dir/e/f.txt", "foxtrot\n");
        await _box.InitAsync();
        CliResult owner = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(owner);
        Assert.True(owner.Summary.GetProperty("data_added").GetInt64() > 0, owner.ToString());

        string pwFile = Path.Combine(_box.Root, "writer-pw");
        File.WriteAllText(pwFile, WriterPassword);
        CliResult add = await _box.Strata("key", "add", "--writer", "--new-password-file", pwFile);
        CliAssert.Ok(add);
    }

    [Fact]
    public async Task A_writer_backs_up_with_dedup_the_owner_restores_it_and_the_writer_cache_skips_unchanged_files()
    {
        await SetUpAsync();

        // same data as the owner's backup: nothing new goes into the repository
        CliResult first = await _box.StrataWith(WriterEnv, "backup", _box.Source, "--json");
        CliAssert.Ok(first);
        var s1 = first.Summary;
        Assert.True(s1.GetProperty("data_added").GetInt64() == 0, $"the writer re-uploaded data the owner had stored\n{first}");
        // nothing changed since the owner's backup of the same source: no new version
        Assert.True(s1.GetProperty("version").GetInt32() == 1 && UnchangedSince(s1) == 1, $"the writer's backup of unchanged data should be 'unchanged since v1'\n{first}");
        string writerSnapshot = s1.GetProperty("snapshot_id").GetString()!;

        // the owner restores the writer's snapshot exactly
        string target = _box.NewTarget("owner-restore");
        CliResult restore = await _box.Strata("restore", writerSnapshot[..12], "--target", target);
        CliAssert.Ok(restore);
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));

        // unchanged data again: thanks to the writer's local cache no file is read
        CliResult second = await _box.StrataWith(WriterEnv, "backup", _box.Source, "--json");
        CliAssert.Ok(second);
        var s2 = second.Summary;
        Assert.True(s2.GetProperty("files_unmodified").GetInt64() == FileCount, $"the writer's second backup re-read files\n{second}");
        Assert.True(s2.GetProperty("bytes_read").GetInt64() == 0, second.ToString());
        Assert.True(s2.GetProperty("data_added").GetInt64() == 0, second.ToString());
        Assert.True(s2.GetProperty("version").GetInt32() == 1 && UnchangedSince(s2) == 1, second.ToString());

        // a modified file is still noticed by the writer, and the owner gets its new content
        _box.Write("dir/d.txt", "delta, changed by the writer's host\n");
        CliResult third = await _box.StrataWith(WriterEnv, "backup", _box.Source, "--json");
        CliAssert.Ok(third);
        Assert.True(third.Summary.GetProperty("files_changed").GetInt64() == 1, third.ToString());
        Assert.True(third.Summary.GetProperty("files_unmodified").GetInt64() == FileCount - 1, third.ToString());
        Assert.True(third.Summary.GetProperty("version").GetInt32() == 2 && UnchangedSince(third.Summary) is null, third.ToString());
        CliResult dump = await _box.Strata("dump", third.Summary.GetProperty("snapshot_id").GetString()!, Path.Combine(_box.Source, "dir/d.txt"));
        CliAssert.Ok(dump);
        Assert.Equal("delta, changed by the writer's host\n", dump.Stdout);

        CliAssert.Ok(await _box.Strata("check", "--read-data"));
    }

    [Fact]
    public async Task Every_read_command_with_a_writer_key_fails_with_exit_13_and_a_clear_message()
    {
        await SetUpAsync();
        CliAssert.Ok(await _box.StrataWith(WriterEnv, "backup", _box.Source));
        string file = Path.Combine(_box.Source, "b.txt");
        string target = Path.Combine(_box.Root, "writer-restore");
        string[][] commands =
        [
            ["snapshots"],
            ["snapshots", "--json"],
            ["ls", "latest"],
            ["restore", "latest", "--target", target],
            ["dump", "latest", file],
            ["find", "*.txt"],
            ["check", "--read-data"],
            ["diff", "latest", "latest"],
        ];
        foreach (string[] c in commands)
        {
            CliResult r = await _box.StrataWith(WriterEnv, c);
            CliAssert.FailsCleanly(13, r, "owner key");
            Assert.True(r.StdoutBytes.Length == 0, $"a writer saw output from {string.Join(' ', c)}\n{r}");
        }
        Assert.False(File.Exists(Sandbox.Restored(target, file)), "the writer restored a file");
    }

    [Fact]
    public async Task A_writer_cannot_add_an_owner_key()
    {
        await SetUpAsync();
        string pw = Path.Combine(_box.Root, "escalate");
        File.WriteAllText(pw, "escalated");
        CliAssert.FailsCleanly(13, await _box.StrataWith(WriterEnv, "key", "add", "--new-password-file", pw), "owner key");
        // the passphrase it tried to add opens nothing
        CliAssert.FailsCleanly(12, await _box.StrataWith(_box.Env("escalated"), "snapshots"), "password");
    }

    [Fact]
    public async Task Without_its_cache_a_writer_rereads_files_but_still_adds_no_data()
    {
        await SetUpAsync();
        CliAssert.Ok(await _box.StrataWith(WriterEnv, "backup", _box.Source));
        Directory.Delete(_writerCache, recursive: true);
        Directory.CreateDirectory(_writerCache);
        CliResult r = await _box.StrataWith(WriterEnv, "backup", _box.Source, "--json");
        CliAssert.Ok(r);
        Assert.Equal(0, r.Summary.GetProperty("data_added").GetInt64());
        Assert.True(r.Summary.GetProperty("bytes_read").GetInt64() > 0, r.ToString());
    }
}
