using System.Net.Sockets;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// The CLI against a real S3 server (Ceph radosgw on 127.0.0.1:7480, started by scripts/services/radosgw.sh):
/// init, backup, check --read-data, restore byte for byte, with data packs in DEEP_ARCHIVE. radosgw keeps the
/// archive class but reads it at once and answers RestoreObject with 501; the restore detects that, says so,
/// and reads directly. Fails (does not skip) when radosgw is not running, unless STRATA_SKIP_S3=1.
/// </summary>
public sealed class S3EndToEndTests : IDisposable
{
    private readonly Sandbox _box = new("s3e2e");

    public void Dispose() => _box.Dispose();

    private static bool RadosgwUp()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", 7480);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private Dictionary<string, string?> Env(string? secret = "TESTSECRET")
    {
        var env = _box.Env();
        env["AWS_ACCESS_KEY_ID"] = "TESTAK";
        env["AWS_SECRET_ACCESS_KEY"] = secret;
        return env;
    }

    [SkippableFact]
    public async Task Backup_check_and_restore_on_S3_with_data_in_deep_archive()
    {
        Skip.If(!RadosgwUp() && Environment.GetEnvironmentVariable("STRATA_SKIP_S3") == "1", "STRATA_SKIP_S3=1 and radosgw is not running");
        Assert.True(RadosgwUp(), "radosgw is not answering on 127.0.0.1:7480: run scripts/services/radosgw.sh start (or set STRATA_SKIP_S3=1)");
        string repo = $"s3:http://127.0.0.1:7480/strata-e2e-{Guid.NewGuid():N}"[..52] + "/repo";
        _box.Write("photos/a.raw", Sandbox.RandomBytes(2_500_000, seed: 11));
        _box.Write("photos/b.raw", Sandbox.RandomBytes(700_000, seed: 12));
        _box.Write("notes/todo.txt", "buy milk\n");

        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "init", "--pack-size", "1MiB"], Env()));
        var backup = await Cli.RunAsync(["--repo", repo, "backup", "--json", _box.Source], Env());
        CliAssert.Ok(backup);
        Assert.True(backup.Summary.GetProperty("data_added").GetInt64() >= 3_200_000, backup.ToString());

        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "check", "--read-data"], Env()));

        string target = _box.NewTarget("restored");
        var restore = await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target, "--yes"], Env());
        CliAssert.Ok(restore);
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));

        // a second, unchanged backup reads nothing new and is no new version
        var again = await Cli.RunAsync(["--repo", repo, "backup", "--json", _box.Source], Env());
        CliAssert.Ok(again);
        Assert.Equal(0, again.Summary.GetProperty("data_added").GetInt64());

        // wrong credentials: a clear message, exit 1, no stack trace
        var denied = await Cli.RunAsync(["--repo", repo, "snapshots"], Env(secret: "wrong"));
        CliAssert.FailsCleanly(1, denied, "access denied");
    }
}
