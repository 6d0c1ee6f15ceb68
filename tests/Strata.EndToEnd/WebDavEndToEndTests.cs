using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// The CLI against a real WebDAV server (apache mod_dav_fs on 127.0.0.1:8088, started by scripts/services/webdav.sh;
/// user strata, basic auth): init into a folder that does not exist yet, backup, check --read-data, restore byte for byte,
/// credentials from the environment, and the bad inputs (a wrong password, a URL that is not http). Fails (does not skip)
/// when the server is not running, unless STRATA_SKIP_WEBDAV=1.
/// </summary>
public sealed class WebDavEndToEndTests : IAsyncLifetime
{
    private const string Server = "127.0.0.1:8088";
    private const string User = "strata";
    private const string Password = "strata-webdav-test";

    private readonly Sandbox _box = new("webdave2e");
    private readonly string _folder = "e2e-" + Guid.NewGuid().ToString("N")[..12];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _box.Dispose();
        if (ServerUp())
        {
            using var http = new HttpClient();
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:{Password}")));
            using HttpResponseMessage _ = await http.DeleteAsync($"http://{Server}/{_folder}/");
        }
    }

    private static bool ServerUp()
    {
        try
        {
            using var c = new TcpClient();
            c.Connect("127.0.0.1", 8088);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static void RequireServer()
    {
        Skip.If(!ServerUp() && Environment.GetEnvironmentVariable("STRATA_SKIP_WEBDAV") == "1", "STRATA_SKIP_WEBDAV=1 and no WebDAV server answers on 127.0.0.1:8088");
        Assert.True(ServerUp(), "no WebDAV server answers on 127.0.0.1:8088: run scripts/services/webdav.sh start (or set STRATA_SKIP_WEBDAV=1)");
    }

    /// <summary>The sandbox's environment without WebDAV credentials of the runner's own.</summary>
    private Dictionary<string, string?> Env(string? user = null, string? password = null)
    {
        var env = _box.Env();
        env["STRATA_WEBDAV_USER"] = user;
        env["STRATA_WEBDAV_PASSWORD"] = password;
        return env;
    }

    [SkippableFact]
    public async Task Init_backup_check_and_restore_on_WebDAV()
    {
        RequireServer();
        // Two folders below the server's root that do not exist yet: init creates them.
        string repo = $"webdav:http://{User}:{Password}@{Server}/{_folder}/nas/strata";
        _box.Write("photos/a.raw", Sandbox.RandomBytes(2_500_000, seed: 21));
        _box.Write("photos/b.raw", Sandbox.RandomBytes(700_000, seed: 22));
        _box.Write("notes/todo.txt", "buy milk\n");
        _box.Write("empty", "");

        var init = await Cli.RunAsync(["--repo", repo, "init", "--pack-size", "1MiB"], Env());
        CliAssert.Ok(init);
        Assert.DoesNotContain(Password, init.Stdout + init.Stderr, StringComparison.Ordinal);
        var backup = await Cli.RunAsync(["--repo", repo, "backup", "--json", _box.Source], Env());
        CliAssert.Ok(backup);
        Assert.True(backup.Summary.GetProperty("data_added").GetInt64() >= 3_200_000, backup.ToString());

        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "check", "--read-data"], Env()));

        string target = _box.NewTarget("restored");
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "restore", "latest", "--target", target, "--yes"], Env()));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));

        // The same repository with the credentials in STRATA_WEBDAV_USER / STRATA_WEBDAV_PASSWORD instead of the URL.
        string bare = $"webdav:http://{Server}/{_folder}/nas/strata";
        var snapshots = await Cli.RunAsync(["--repo", bare, "snapshots", "--json"], Env(User, Password));
        CliAssert.Ok(snapshots);
        Assert.Single(System.Text.Json.JsonDocument.Parse(snapshots.Stdout).RootElement.EnumerateArray());

        // A second, unchanged backup adds nothing.
        var again = await Cli.RunAsync(["--repo", repo, "backup", "--json", _box.Source], Env());
        CliAssert.Ok(again);
        Assert.Equal(0, again.Summary.GetProperty("data_added").GetInt64());
    }

    [SkippableFact]
    public async Task A_wrong_password_or_a_bad_url_fails_cleanly_without_showing_the_password()
    {
        RequireServer();
        string repo = $"webdav:http://{User}:{Password}@{Server}/{_folder}/repo";
        CliAssert.Ok(await Cli.RunAsync(["--repo", repo, "init"], Env()));

        string wrong = $"webdav:http://{User}:not-the-password-7c1e@{Server}/{_folder}/repo";
        foreach (string[] args in new[] { new[] { "snapshots" }, new[] { "backup", _box.Source } })
        {
            var denied = await Cli.RunAsync(["--repo", wrong, .. args], Env());
            CliAssert.FailsCleanly(1, denied, $"webdav:http://{User}@{Server}/{_folder}/repo/", "refused the login of strata (HTTP 401)");
            Assert.DoesNotContain("not-the-password", denied.Stderr, StringComparison.Ordinal);
        }

        var missingUser = await Cli.RunAsync(["--repo", $"webdav:http://{Server}/{_folder}/repo", "snapshots"], Env());
        CliAssert.FailsCleanly(1, missingUser, "the server wants a login (HTTP 401)", "STRATA_WEBDAV_USER");

        var badUrl = await Cli.RunAsync(["--repo", $"webdav:ftp://{User}:{Password}@{Server}/x", "snapshots"], Env());
        CliAssert.FailsCleanly(2, badUrl, "http:// or https://, not ftp://");
        Assert.DoesNotContain(Password, badUrl.Stderr, StringComparison.Ordinal);

        // Nothing stored was touched: the right password still sees the repository, with no snapshot.
        var ok = await Cli.RunAsync(["--repo", repo, "snapshots", "--json"], Env());
        CliAssert.Ok(ok);
        Assert.Empty(System.Text.Json.JsonDocument.Parse(ok.Stdout).RootElement.EnumerateArray());
    }
}
