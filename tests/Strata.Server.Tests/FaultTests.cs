using System.Diagnostics;
using System.Net;
using Strata.Stores;

namespace Strata.Server.Tests;

/// <summary>
/// Faults on the server side: a real full disk (a 4 MiB tmpfs) answers 507 and leaves no partial object; a shutdown
/// lets an upload in flight finish, and aborts one that does not finish in time without leaving anything behind.
/// </summary>
public sealed class FaultTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "strata-fault-" + Guid.NewGuid().ToString("N"));
    private readonly List<RestServer> _servers = [];
    private bool _mounted;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (RestServer s in _servers)
        {
            await s.StopAsync(CancellationToken.None);
            await s.DisposeAsync();
        }
        if (_mounted)
        {
            // Lazy: a handle the runtime still holds must not keep the mount (and the test run) alive.
            Run("umount", "-l", _root);
        }
        Directory.Delete(_root, recursive: true);
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd() + p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, err);
    }

    private async Task<(RestServer Server, HttpClient Client, string Repo)> StartAsync(TimeSpan shutdown)
    {
        string repo = Path.Combine(_root, "repo");
        var server = new RestServer(new ServerOptions
        {
            Repositories = [new ServedRepository("", new LocalStore(repo))],
            Listen = ["127.0.0.1:0"],
            NoAuth = true,
            ShutdownTimeout = shutdown,
        });
        await server.StartAsync(CancellationToken.None);
        _servers.Add(server);
        var client = new HttpClient { BaseAddress = server.Addresses[0], Timeout = TimeSpan.FromSeconds(60) };
        return (server, client, repo);
    }

    private static string Id(char c) => new(c, 64);

    /// <summary>
    /// Waits until the server is writing the upload (its temporary file exists in tmp/): the client having flushed its
    /// first bytes does not mean the server has read the request yet, and a shutdown before that closes the connection
    /// without any request in flight (FaultTests flaked that way under load).
    /// </summary>
    private static async Task UploadStartedAsync(string repo)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Leftovers(repo).Length == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the server never started writing the upload");
            await Task.Delay(20);
        }
    }

    private static string[] Visible(string repo, string kind) =>
        Directory.Exists(Path.Combine(repo, kind)) ? Directory.GetFiles(Path.Combine(repo, kind), "*", SearchOption.AllDirectories) : [];

    private static string[] Leftovers(string repo) =>
        Directory.Exists(Path.Combine(repo, "tmp")) ? Directory.GetFiles(Path.Combine(repo, "tmp")) : [];

    [SkippableFact]
    public async Task A_full_disk_answers_507_and_leaves_no_partial_object_and_later_writes_that_fit_succeed()
    {
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", _root);
        Skip.If(code != 0, $"cannot mount a 4 MiB tmpfs here (needs root and CAP_SYS_ADMIN): {output}");
        _mounted = true;
        var (_, client, repo) = await StartAsync(TimeSpan.FromSeconds(5));

        byte[] big = new byte[6 << 20];
        new Random(1).NextBytes(big);
        using HttpResponseMessage full = await client.PostAsync(new Uri($"/index/{Id('a')}", UriKind.Relative), new ByteArrayContent(big));
        Assert.Equal((HttpStatusCode)507, full.StatusCode);
        Assert.Empty(Visible(repo, "index"));
        Assert.Empty(Leftovers(repo));
        using HttpResponseMessage missing = await client.GetAsync(new Uri($"/index/{Id('a')}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Through the client store the same refusal is a permanent error naming the full disk.
        await using var store = new RestStore(client.BaseAddress!);
        using (var ms = new MemoryStream(big))
        {
            var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.WriteAsync(new ObjectName(ObjectKind.Data, Id('b')), ms, CancellationToken.None));
            Assert.Contains("disk is full", e.Message, StringComparison.Ordinal);
        }
        Assert.Empty(Visible(repo, "data"));

        // Nothing was kept of the refused uploads, so what fits still goes in.
        byte[] small = new byte[1 << 20];
        new Random(2).NextBytes(small);
        using HttpResponseMessage ok = await client.PostAsync(new Uri($"/index/{Id('c')}", UriKind.Relative), new ByteArrayContent(small));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(small, await client.GetByteArrayAsync(new Uri($"/index/{Id('c')}", UriKind.Relative)));
    }

    /// <summary>A body that sends <paramref name="first"/> bytes, then waits for <paramref name="release"/> before sending the rest.</summary>
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
    public async Task A_shutdown_lets_an_upload_in_flight_finish()
    {
        var (server, client, repo) = await StartAsync(TimeSpan.FromSeconds(10));
        byte[] data = new byte[3 << 20];
        new Random(3).NextBytes(data);
        var release = new TaskCompletionSource();
        var body = new StalledContent(data, 1 << 20, release.Task);
        Task<HttpResponseMessage> upload = client.PostAsync(new Uri($"/data/{Id('d')}", UriKind.Relative), body);
        await body.FirstSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await UploadStartedAsync(repo);
        Task stopping = server.StopAsync(CancellationToken.None);
        await Task.Delay(500);
        Assert.False(stopping.IsCompleted, "the server stopped without waiting for the upload in flight");
        release.SetResult();
        using HttpResponseMessage done = await upload;
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        await stopping;
        string stored = Assert.Single(Visible(repo, "data"));
        Assert.Equal(data, File.ReadAllBytes(stored));
        Assert.Empty(Leftovers(repo));
    }

    [Fact]
    public async Task A_shutdown_aborts_an_upload_that_does_not_finish_in_time_and_leaves_nothing()
    {
        var (server, client, repo) = await StartAsync(TimeSpan.FromSeconds(1));
        byte[] data = new byte[3 << 20];
        var never = new TaskCompletionSource();
        var body = new StalledContent(data, 1 << 20, never.Task);
        Task<HttpResponseMessage> upload = client.PostAsync(new Uri($"/data/{Id('e')}", UriKind.Relative), body);
        await body.FirstSent.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await UploadStartedAsync(repo);
        var sw = Stopwatch.StartNew();
        await server.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"shutdown took {sw.Elapsed}");
        // The client learns of the abort once it tries to send the rest.
        never.SetResult();
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using HttpResponseMessage r = await upload.WaitAsync(TimeSpan.FromSeconds(30));
            r.EnsureSuccessStatusCode();
        });
        // The aborted upload's temporary file is removed once the request is torn down.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Leftovers(repo).Length > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Empty(Visible(repo, "data"));
        Assert.Empty(Leftovers(repo));
    }
}
