using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Strata.Stores;

namespace Strata.Conformance;

/// <summary>
/// The apache mod_dav_fs server that scripts/services/webdav.sh starts on 127.0.0.1:8088 (user strata, basic auth), and
/// a raw HTTP client to look at what the store left there. When the server is down, every test that needs it fails
/// with what to run, unless STRATA_SKIP_WEBDAV=1 says that is expected; then they are skipped with that reason.
/// </summary>
public sealed class WebDavFixture : IAsyncLifetime
{
    public const string Host = "127.0.0.1";
    public const int Port = 8088;
    public const string User = "strata";
    public const string Password = "strata-webdav-test";
    public static readonly Uri Root = new($"http://{Host}:{Port}/");

    /// <summary>A client logged in as the test user, for planting and inspecting files behind the store's back.</summary>
    public HttpClient Client { get; } = new(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        BaseAddress = Root,
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(User + ":" + Password))) },
    };

    /// <summary>Why the server cannot be used, or null when it can.</summary>
    public string? Problem { get; private set; }

    private bool _down;
    private readonly List<string> _folders = [];

    public async Task InitializeAsync()
    {
        try
        {
            using var tcp = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await tcp.ConnectAsync(Host, Port, cts.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            _down = true;
            Problem = $"no WebDAV server answers on {Root}: run scripts/services/webdav.sh start (it installs what it needs), or set STRATA_SKIP_WEBDAV=1 to skip the WebDAV tests";
            return;
        }
        using var probe = new HttpRequestMessage(new HttpMethod("PROPFIND"), "/") { Headers = { { "Depth", "0" } } };
        using HttpResponseMessage r = await Client.SendAsync(probe);
        if (r.StatusCode != HttpStatusCode.MultiStatus)
        {
            Problem = $"{Root} answers PROPFIND as {User} with HTTP {(int)r.StatusCode}, not 207: is it the server of scripts/services/webdav.sh?";
        }
    }

    /// <summary>Skips (STRATA_SKIP_WEBDAV=1 and the server is down) or fails (otherwise) a test that needs the server.</summary>
    public void RequireServer()
    {
        if (Problem is null)
        {
            return;
        }
        Skip.If(_down && Environment.GetEnvironmentVariable("STRATA_SKIP_WEBDAV") == "1", $"STRATA_SKIP_WEBDAV=1 and {Problem}");
        throw new InvalidOperationException(Problem);
    }

    /// <summary>A fresh folder name under the server's root (not created), removed when the test class ends.</summary>
    public string NewFolder(string prefix)
    {
        string folder = prefix + "-" + Guid.NewGuid().ToString("N")[..12];
        lock (_folders)
        {
            _folders.Add(folder);
        }
        return folder;
    }

    public WebDavLocation Location(string folder, string password = Password) =>
        new(new Uri(Root, folder.TrimEnd('/') + "/"), User, password);

    /// <summary>PUTs a file at a path under the root, creating the folders above it first.</summary>
    public async Task PlantAsync(string path, byte[] content)
    {
        string[] parts = path.Split('/');
        for (int i = 1; i < parts.Length; i++)
        {
            using var mkcol = new HttpRequestMessage(new HttpMethod("MKCOL"), string.Join('/', parts[..i]) + "/");
            using HttpResponseMessage m = await Client.SendAsync(mkcol);
            Assert.True(m.IsSuccessStatusCode || m.StatusCode == HttpStatusCode.MethodNotAllowed, $"MKCOL {mkcol.RequestUri}: {(int)m.StatusCode}");
        }
        using HttpResponseMessage r = await Client.PutAsync(path, new ByteArrayContent(content));
        Assert.True(r.IsSuccessStatusCode, $"PUT {path}: {(int)r.StatusCode}");
    }

    /// <summary>The names directly inside a folder (files and folders), or null when it does not exist.</summary>
    public async Task<List<string>?> NamesInAsync(string folder)
    {
        using var request = new HttpRequestMessage(new HttpMethod("PROPFIND"), folder.TrimEnd('/') + "/") { Headers = { { "Depth", "1" } } };
        using HttpResponseMessage r = await Client.SendAsync(request);
        if (r.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        Assert.Equal(HttpStatusCode.MultiStatus, r.StatusCode);
        var doc = System.Xml.Linq.XDocument.Parse(await r.Content.ReadAsStringAsync());
        System.Xml.Linq.XNamespace dav = "DAV:";
        string self = "/" + folder.Trim('/');
        return doc.Descendants(dav + "href")
            .Select(h => Uri.UnescapeDataString(h.Value).TrimEnd('/'))
            .Where(p => p != self)
            .Select(p => p[(p.LastIndexOf('/') + 1)..])
            .ToList();
    }

    public async Task<byte[]?> GetAsync(string path)
    {
        using HttpResponseMessage r = await Client.GetAsync(path);
        return r.StatusCode == HttpStatusCode.NotFound ? null : await r.EnsureSuccessStatusCode().Content.ReadAsByteArrayAsync();
    }

    public async Task DisposeAsync()
    {
        if (Problem is null)
        {
            foreach (string folder in _folders)
            {
                // DELETE of a folder removes everything in it (RFC 4918 9.6.1); a leftover in a throwaway server is harmless.
                using HttpResponseMessage _ = await Client.DeleteAsync(folder + "/");
            }
        }
        Client.Dispose();
    }
}
