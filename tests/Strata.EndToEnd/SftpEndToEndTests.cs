using System.Net.Sockets;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// The CLI against a real OpenSSH server (127.0.0.1:2222, user stratatest, started by scripts/services/sshd.sh):
/// init, backup, check --read-data and restore byte for byte over sftp:, with the key and known_hosts found where ssh
/// keeps them (~/.ssh of the run's HOME); then bad locations, each a clear message and an exit code without a stack
/// trace. Skips when the server is down, unless STRATA_REQUIRE_DATABASES=1 or STRATA_REQUIRE_SFTP=1.
/// </summary>
public sealed class SftpEndToEndTests : IDisposable
{
    private const string Home = "/home/stratatest";
    private readonly Sandbox _box = new("sftpe2e");
    private readonly string _folder = "strata-e2e-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        _box.Dispose();
        // The server runs on this machine: its folder is removed directly.
        string folder = Path.Combine(Home, _folder);
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string StateDir => Path.Combine(
        Environment.GetEnvironmentVariable("STRATA_SERVICES_DIR") is { Length: > 0 } d ? d : Path.Combine(RepoRoot(), ".services"), "sshd");

    private static void RequireServer()
    {
        string? problem = null;
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", 2222);
            if (!File.Exists(Path.Combine(StateDir, "client_ed25519")))
            {
                problem = $"an SSH server answers on 127.0.0.1:2222 but {StateDir}/client_ed25519 is missing: run scripts/services/sshd.sh start from this checkout";
            }
        }
        catch (SocketException)
        {
            problem = "no SSH server answers on 127.0.0.1:2222: run scripts/services/sshd.sh start";
        }
        if (problem is null)
        {
            return;
        }
        bool required = Environment.GetEnvironmentVariable("STRATA_REQUIRE_DATABASES") == "1" || Environment.GetEnvironmentVariable("STRATA_REQUIRE_SFTP") == "1";
        Skip.IfNot(required, problem);
        Assert.Fail(problem + " (STRATA_REQUIRE_DATABASES=1 or STRATA_REQUIRE_SFTP=1 makes this a failure)");
    }

    /// <summary>Puts the test user's key and the server's known_hosts line into ~/.ssh of the runs' HOME (the sandbox).</summary>
    private void InstallSshFiles()
    {
        string ssh = Path.Combine(_box.Root, ".ssh");
        Directory.CreateDirectory(ssh);
        File.Copy(Path.Combine(StateDir, "client_ed25519"), Path.Combine(ssh, "id_ed25519"));
        File.Copy(Path.Combine(StateDir, "known_hosts"), Path.Combine(ssh, "known_hosts"));
    }

    [SkippableFact]
    public async Task Init_backup_check_and_restore_over_sftp()
    {
        RequireServer();
        InstallSshFiles();
        string repo = $"sftp://stratatest@127.0.0.1:2222/{_folder}/repo";
        _box.Write("photos/a.raw", Sandbox.RandomBytes(2_500_000, seed: 21));
        _box.Write("photos/b.raw", Sandbox.RandomBytes(700_000, seed: 22));
        _box.Write("notes/todo.txt", "buy milk\n");
        _box.Write("empty", []);

        var init = await Cli.RunAsync(["--repo", repo, "init", "--pack-size", "1MiB"], _box.Env());
        CliAssert.Ok(init);
        Assert.Contains(repo, init.Stdout + init.Stderr, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Home, _folder, "repo", "config")), "init wrote the config into the user's home folder");

        var backup = await Cli.RunAsync(["--repo", repo, "backup", "--json", _box.Source], _box.Env());
        CliAssert.Ok(backup);
        Assert.True(backup.Summary.GetProperty("data_added").GetInt64() >= 3_200_000, backup.ToString());
        // Packs sit in data/XX/ as in a local repository.
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(Home, _folder, "repo", "data"), "*", SearchOption.AllDirectories));

        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "check", "--read-data"], _box.Env()));

        string target = _box.NewTarget("restored");
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target, "--yes"], _box.Env()));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));

        // The same repository in restic's scp-like form (port 22 is not this server's, so the URL form is the one here).
        var snapshots = await Cli.RunAsync(["--repo", $"sftp://stratatest@127.0.0.1:2222//home/stratatest/{_folder}/repo", "snapshots", "--json"], _box.Env());
        CliAssert.Ok(snapshots);
        Assert.Contains(_box.Source, snapshots.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Bad_sftp_locations_fail_cleanly()
    {
        RequireServer();
        InstallSshFiles();

        // A folder with no repository: exit 10 (no repository), naming the location.
        var missing = await Cli.RunAsync(["--repo", $"sftp://stratatest@127.0.0.1:2222/{_folder}/nothing-here", "snapshots"], _box.Env());
        CliAssert.FailsCleanly(10, missing, "no repository at", $"{_folder}/nothing-here");

        // A host that does not exist: exit 1, naming the host.
        var unreachable = await Cli.RunAsync(["--repo", "sftp:stratatest@no-such-host.invalid:/srv/repo", "snapshots"], _box.Env());
        CliAssert.FailsCleanly(1, unreachable, "cannot find the host no-such-host.invalid");

        // A server whose host key is not in known_hosts: exit 1, saying how to add it; nothing is created.
        var env = _box.Env();
        env["STRATA_SFTP_KNOWN_HOSTS"] = Path.Combine(_box.Root, "empty-known-hosts");
        var unknown = await Cli.RunAsync(["--repo", $"sftp://stratatest@127.0.0.1:2222/{_folder}/repo2", "init"], env);
        CliAssert.FailsCleanly(1, unknown, "the host key of [127.0.0.1]:2222 is not known", "ssh-keyscan -p 2222 127.0.0.1 >>");
        Assert.False(Directory.Exists(Path.Combine(Home, _folder, "repo2")));

        // A malformed location: exit 2 (usage), with the forms that work.
        var malformed = await Cli.RunAsync(["--repo", "sftp:stratatest@127.0.0.1", "snapshots"], _box.Env());
        CliAssert.FailsCleanly(2, malformed, "no ':' between the host and the path", "sftp:user@host:/absolute/path");

        // A password in the location never shows in a message.
        var password = await Cli.RunAsync(["--repo", "sftp:stratatest:hunter2secret@127.0.0.1:/x", "snapshots"], _box.Env());
        CliAssert.FailsCleanly(2, password, "STRATA_SFTP_PASSWORD");
        Assert.DoesNotContain("hunter2secret", password.Stderr, StringComparison.Ordinal);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Strata.slnx")))
            {
                return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
