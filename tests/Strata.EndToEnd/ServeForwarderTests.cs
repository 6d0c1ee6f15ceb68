using System.Diagnostics;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// `strata serve` hands over to strata-server (the CLI with the HTTP server built in): the same process becomes the
/// server, takes serve's own options and subcommands, and stops on SIGTERM; without strata-server the error says what
/// is missing and where it looked.
/// </summary>
public sealed class ServeForwarderTests : IDisposable
{
    private readonly Sandbox _box = new("serveforward");

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task Strata_serve_becomes_strata_server_in_the_same_process()
    {
        await _box.InitAsync();
        await using ServeProcess serve = await ServeProcess.StartAsync(_box.Env(), "--repo", _box.Repo, "--no-auth");
        string exe = File.ResolveLinkTarget($"/proc/{serve.Process.Id}/exe", returnFinalTarget: false)!.FullName;
        Assert.Equal("strata-server", Path.GetFileName(exe));
        Assert.Equal(Path.GetDirectoryName(StrataBinary.Path), Path.GetDirectoryName(exe));

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using HttpResponseMessage config = await http.GetAsync(new Uri($"http://127.0.0.1:{serve.Port}/config"));
        Assert.Equal(System.Net.HttpStatusCode.OK, config.StatusCode);

        Assert.Equal(0, await serve.StopAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("shutting down", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_subcommands_and_option_errors_come_from_the_server()
    {
        string users = Path.Combine(_box.Root, "users.json");
        string pw = Path.Combine(_box.Root, "pw");
        File.WriteAllText(pw, "s3cret-for-the-nas\n");
        CliAssert.Ok(await Cli.RunAsync(["serve", "users", "add", "laptop", "--role", "writer", "--users", users, "--password-file", pw], _box.Env()));
        CliResult list = await Cli.RunAsync(["serve", "users", "list", "--users", users], _box.Env());
        CliAssert.Ok(list);
        Assert.Contains("laptop", list.Stdout, StringComparison.Ordinal);

        CliResult bad = await Cli.RunAsync(["serve", "--no-such-option"], _box.Env());
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--no-such-option", bad.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_strata_server_serve_names_what_is_missing()
    {
        // strata alone (with the libraries it loads), on a PATH without strata-server
        string dir = Path.Combine(_box.Root, "bin-without-server");
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.EnumerateFiles(Path.GetDirectoryName(StrataBinary.Path)!))
        {
            if (Path.GetFileName(f) != "strata-server")
            {
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }
        }
        var psi = new ProcessStartInfo(Path.Combine(dir, "strata"), ["serve", "--repo", _box.Repo])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["PATH"] = "/usr/bin:/bin";
        using var p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, p.ExitCode);
        string err = await stderr;
        Assert.Contains("strata-server", err, StringComparison.Ordinal);
        Assert.Contains(dir, err, StringComparison.Ordinal);
        Assert.Contains("/usr/bin", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        Assert.Equal("", await stdout);
    }
}
