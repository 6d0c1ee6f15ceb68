using System.Net;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// `strata serve` killed with SIGKILL while an upload is half received: after a restart the object is not visible
/// (no GET, no listing entry), the repository still checks clean, and the upload can simply be made again.
/// </summary>
public sealed class ServerKillTests : IDisposable
{
    private readonly Sandbox _box = new("serverkill");

    public void Dispose() => _box.Dispose();

    /// <summary>A body that sends its first part, then waits for <paramref name="release"/>.</summary>
    private sealed class StalledContent(byte[] data, int first, Task release) : HttpContent
    {
        public TaskCompletionSource FirstSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(data.AsMemory(0, first));
            await stream.FlushAsync();
            FirstSent.TrySetResult();
            await release;
            await stream.WriteAsync(data.AsMemory(first));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = data.Length;
            return true;
        }
    }

    [Fact]
    public async Task A_server_killed_mid_upload_shows_no_partial_object_after_restart()
    {
        _box.Write("a.txt", "before the crash\n");
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        string name = new('7', 64);
        byte[] data = Sandbox.RandomBytes(8 << 20, seed: 9);

        ServeProcess first = await ServeProcess.StartAsync(_box.Env(), "--repo", _box.Repo, "--no-auth");
        var never = new TaskCompletionSource();
        var body = new StalledContent(data, 3 << 20, never.Task);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        Task<HttpResponseMessage> upload = http.PostAsync(new Uri($"http://127.0.0.1:{first.Port}/data/{name}"), body);
        await body.FirstSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // Wait until the server has written part of it to disk: the kill lands mid-object.
        string tmp = Path.Combine(_box.Repo, "tmp");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(Directory.Exists(tmp) && Directory.GetFiles(tmp).Any(f => new FileInfo(f).Length > 0)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the server never started writing the upload\n{first.Output}");
            await Task.Delay(50);
        }
        first.Kill9();
        never.SetResult();
        await Assert.ThrowsAnyAsync<Exception>(async () => (await upload).EnsureSuccessStatusCode());
        await first.DisposeAsync();

        await using ServeProcess second = await ServeProcess.StartAsync(_box.Env(), "--repo", _box.Repo, "--no-auth");
        using (HttpResponseMessage get = await http.GetAsync(new Uri($"http://127.0.0.1:{second.Port}/data/{name}")))
        {
            Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        }
        string listing = await http.GetStringAsync(new Uri($"http://127.0.0.1:{second.Port}/data/"));
        Assert.DoesNotContain(name, listing, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(_box.Repo, "data"), name, SearchOption.AllDirectories));
        CliAssert.Ok(await Cli.RunAsync(["--repo", second.Url(), "check"], _box.Env()));

        // The client's retry after the crash stores the whole object.
        using (HttpResponseMessage again = await http.PostAsync(new Uri($"http://127.0.0.1:{second.Port}/data/{name}"), new ByteArrayContent(data)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }
        Assert.Equal(data, await http.GetByteArrayAsync(new Uri($"http://127.0.0.1:{second.Port}/data/{name}")));
    }
}
