using System.Net.Sockets;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>strata init --object-lock DAYS on radosgw: a new bucket gets Object Lock, backups work; bad requests fail cleanly.</summary>
public sealed class ObjectLockCliTests : IDisposable
{
    private readonly Sandbox _box = new("objlock");

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

    private Dictionary<string, string?> Env()
    {
        var env = _box.Env();
        env["AWS_ACCESS_KEY_ID"] = "TESTAK";
        env["AWS_SECRET_ACCESS_KEY"] = "TESTSECRET";
        return env;
    }

    [SkippableFact]
    public async Task Init_with_object_lock_creates_a_locked_bucket_and_refuses_one_without_it()
    {
        Skip.If(!RadosgwUp() && Environment.GetEnvironmentVariable("STRATA_SKIP_S3") == "1", "STRATA_SKIP_S3=1 and radosgw is not running");
        Assert.True(RadosgwUp(), "radosgw is not answering on 127.0.0.1:7480: run scripts/services/radosgw.sh start (or set STRATA_SKIP_S3=1)");
        string bucket = $"strata-olock-{Guid.NewGuid():N}"[..30];
        string repo = $"s3:http://127.0.0.1:7480/{bucket}/locked";
        _box.Write("a.txt", "kept for a day at least\n");

        CliResult init = await Cli.RunAsync(["--repo", repo, "init", "--object-lock", "1"], Env());
        CliAssert.Ok(init);
        Assert.Contains("Object Lock: every object is kept at least 1 days (GOVERNANCE mode)", init.Stdout, StringComparison.Ordinal);
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "backup", _box.Source], Env()));
        string target = _box.NewTarget("restored");
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target, "--yes"], Env()));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
        // A second init on the same place changes nothing.
        CliAssert.FailsCleanly(2, await Cli.RunAsync(["--repo", repo, "init", "--object-lock", "1"], Env()), "already exists");

        // A bucket made without Object Lock (by a plain init) cannot get it afterwards.
        string plainBucket = $"strata-plain-{Guid.NewGuid():N}"[..30];
        CliAssert.Ok(await Cli.RunAsync(["--repo", $"s3:http://127.0.0.1:7480/{plainBucket}/a", "init"], Env()));
        CliResult refused = await Cli.RunAsync(["--repo", $"s3:http://127.0.0.1:7480/{plainBucket}/b", "init", "--object-lock", "30"], Env());
        CliAssert.FailsCleanly(2, refused, $"bucket {plainBucket}", "without Object Lock", "new bucket name");
    }

    [Fact]
    public async Task Object_lock_on_a_local_folder_or_with_bad_values_fails_cleanly()
    {
        CliAssert.FailsCleanly(2, await _box.Strata("init", "--object-lock", "30"), "--object-lock needs an S3 repository");
        CliAssert.FailsCleanly(2, await _box.Strata("init", "--object-lock", "0"), "--object-lock", "1 to 36500");
        CliAssert.FailsCleanly(2, await _box.Strata("init", "--object-lock", "5", "--object-lock-mode", "forever"), "governance or compliance");
        Assert.False(File.Exists(Path.Combine(_box.Repo, "config")));
    }
}
