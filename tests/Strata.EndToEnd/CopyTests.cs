using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// strata copy between repositories with different keys: every version restores from the target byte for byte,
/// unchanged data is not stored twice, and copying again adds nothing. Local to local, and local to a server.
/// </summary>
public sealed class CopyTests : IDisposable
{
    private const string TargetPassword = "the target's own passphrase";
    private readonly Sandbox _box = new("copy");
    private readonly string _target;

    public CopyTests() => _target = Path.Combine(_box.Root, "target-repo");

    public void Dispose() => _box.Dispose();

    private Dictionary<string, string?> Env => new(_box.Env()) { ["STRATA_TO_PASSWORD"] = TargetPassword };

    /// <summary>Two versions in the source: v2 changes one file and adds one.</summary>
    private async Task<string[]> TwoVersionsAsync()
    {
        _box.Write("a.bin", Sandbox.RandomBytes(2_500_000, 1));
        _box.Write("docs/b.txt", "bravo\n");
        _box.Write("docs/c.bin", Sandbox.RandomBytes(900_000, 2));
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        _box.Write("docs/b.txt", "bravo, changed\n");
        _box.Write("docs/d.bin", Sandbox.RandomBytes(400_000, 3));
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        CliResult snaps = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(snaps);
        using var doc = JsonDocument.Parse(snaps.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()!).ToArray();
    }

    private static int ObjectCount(string repo) => Directory.GetFiles(repo, "*", SearchOption.AllDirectories).Count(f => !f.Contains("/locks/", StringComparison.Ordinal));

    /// <summary>Restores a snapshot from the source and from the target and compares the two restores, and the latest with the live source.</summary>
    private async Task AssertSameRestoresAsync(string targetRepo, Dictionary<string, string?> targetEnv, string[] sourceIds, string[] targetIds)
    {
        for (int i = 0; i < sourceIds.Length; i++)
        {
            string fromSource = _box.NewTarget($"restore-src-{i}");
            CliAssert.Ok(await _box.Strata("restore", sourceIds[i], "--target", fromSource));
            string fromTarget = _box.NewTarget($"restore-dst-{i}");
            CliAssert.Ok(await Cli.RunAsync(["--repo", targetRepo, "restore", targetIds[i], "--target", fromTarget], targetEnv));
            TreeComparer.AssertSame(Sandbox.Restored(fromSource, _box.Source), Sandbox.Restored(fromTarget, _box.Source));
            if (i == sourceIds.Length - 1)
            {
                TreeComparer.AssertSame(_box.Source, Sandbox.Restored(fromTarget, _box.Source));
            }
        }
    }

    private static string[] TargetIds(CliResult copy) =>
        copy.JsonMessages("snapshot").Select(e => e.GetProperty("target_id").GetString()!).ToArray();

    [Fact]
    public async Task Copy_local_to_local_restores_every_version_byte_for_byte_and_a_second_copy_adds_nothing()
    {
        string[] ids = await TwoVersionsAsync();
        CliAssert.Ok(await Cli.RunAsync(["--repo", _target, "init"], _box.Env(TargetPassword)));

        // First only the older snapshot, then everything: the older one is recognised as already there.
        CliResult one = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _target, ids[0][..8], "--json"], Env);
        CliAssert.Ok(one);
        Assert.Equal(1, one.Summary.GetProperty("snapshots_copied").GetInt32());
        CliResult all = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _target, "--json"], Env);
        CliAssert.Ok(all);
        Assert.Equal(1, all.Summary.GetProperty("snapshots_copied").GetInt32());
        Assert.Equal(1, all.Summary.GetProperty("snapshots_skipped").GetInt32());
        // The second version shares most data with the first: only the changed and added files are new.
        long added = all.Summary.GetProperty("data_added").GetInt64();
        Assert.True(added < 1_000_000, $"the second snapshot's copy stored {added} bytes, expected only the changed files\n{all}");

        string[] targetIds = TargetIds(all);
        Assert.Equal(2, targetIds.Length);
        await AssertSameRestoresAsync(_target, _box.Env(TargetPassword), ids, targetIds);

        int before = ObjectCount(_target);
        CliResult again = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _target, "--json"], Env);
        CliAssert.Ok(again);
        Assert.Equal(0, again.Summary.GetProperty("snapshots_copied").GetInt32());
        Assert.Equal(before, ObjectCount(_target));

        // The target has its own keys: the source passphrase does not open it, and it checks clean with every pack read.
        CliResult wrong = await Cli.RunAsync(["--repo", _target, "snapshots"], _box.Env());
        CliAssert.FailsCleanly(12, wrong, "wrong password");
        CliResult check = await Cli.RunAsync(["--repo", _target, "check", "--read-data"], _box.Env(TargetPassword));
        CliAssert.Ok(check);
        // A later backup into the target of the same source continues its history (version 3).
        CliResult next = await Cli.RunAsync(["--repo", _target, "backup", _box.Source, "--json"], _box.Env(TargetPassword));
        CliAssert.Ok(next);
        Assert.Equal(2, next.Summary.GetProperty("unchanged_since").GetInt32());
    }

    [Fact]
    public async Task Copy_to_a_server_with_a_writer_login_restores_byte_for_byte_and_a_second_copy_adds_nothing()
    {
        string[] ids = await TwoVersionsAsync();
        Directory.CreateDirectory(_target);
        string users = Path.Combine(_box.Root, "users.json");
        string pwFile = Path.Combine(_box.Root, "login-pw");
        File.WriteAllText(pwFile, "login secret");
        CliAssert.Ok(await Cli.RunAsync(["serve", "users", "add", "nas-writer", "--role", "writer", "--users", users, "--password-file", pwFile], _box.Env()));
        CliAssert.Ok(await Cli.RunAsync(["serve", "users", "add", "nas-admin", "--role", "admin", "--users", users, "--password-file", pwFile], _box.Env()));
        await using ServeProcess serve = await ServeProcess.StartAsync(_box.Env(), "--repo", _target, "--users", users);
        string admin = serve.Url("nas-admin", "login secret");
        string writer = serve.Url("nas-writer", "login secret");
        CliAssert.Ok(await Cli.RunAsync(["--repo", admin, "init"], _box.Env(TargetPassword)));

        CliResult copy = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", writer, "--json"], Env);
        CliAssert.Ok(copy);
        Assert.Equal(2, copy.Summary.GetProperty("snapshots_copied").GetInt32());
        await AssertSameRestoresAsync(admin, _box.Env(TargetPassword), ids, TargetIds(copy));

        int before = ObjectCount(_target);
        CliResult again = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", writer, "--json"], Env);
        CliAssert.Ok(again);
        Assert.Equal(0, again.Summary.GetProperty("snapshots_copied").GetInt32());
        Assert.Equal(2, again.Summary.GetProperty("snapshots_skipped").GetInt32());
        Assert.Equal(before, ObjectCount(_target));
    }

    [Fact]
    public async Task Bad_copy_requests_fail_cleanly()
    {
        await TwoVersionsAsync();
        CliResult none = await Cli.RunAsync(["--repo", _box.Repo, "copy"], Env);
        CliAssert.FailsCleanly(2, none, "--from", "--to");
        CliResult same = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _box.Repo], Env);
        CliAssert.FailsCleanly(2, same, "same repository");
        CliResult missing = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _target], Env);
        CliAssert.FailsCleanly(10, missing, "no repository");
        CliAssert.Ok(await Cli.RunAsync(["--repo", _target, "init"], _box.Env(TargetPassword)));
        CliResult unknown = await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", _target, "deadbeef"], Env);
        CliAssert.FailsCleanly(2, unknown, "no snapshot with id 'deadbeef'");
    }
}
