using System.Net.Http.Headers;
using System.Text;
using Strata.Stores;

namespace Strata.Server.Tests;

/// <summary>A real Kestrel server on a free loopback port over temporary local stores; deleted on dispose.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    public static readonly string[] Users = ["writer", "writer2", "reader", "admin", "other"];

    private TestServer(string root, RestServer server, Uri address, StringWriter log)
    {
        Root = root;
        Server = server;
        Address = address;
        Log = log;
    }

    public string Root { get; }
    public RestServer Server { get; }
    public Uri Address { get; }
    public StringWriter Log { get; }

    public string RepoRoot(string prefix = "") => Path.Combine(Root, prefix.Length == 0 ? "root" : prefix);

    public static string Password(string user) => user + "-secret";

    /// <summary>Users: writer, writer2 (writers everywhere), reader, admin (everywhere), other (admin of "b" only).</summary>
    public static UserDatabase MakeUsers()
    {
        var db = UserDatabase.Empty();
        db.Set("writer", Password("writer"), new() { ["*"] = Role.Writer });
        db.Set("writer2", Password("writer2"), new() { ["*"] = Role.Writer });
        db.Set("reader", Password("reader"), new() { ["*"] = Role.Reader });
        db.Set("admin", Password("admin"), new() { ["*"] = Role.Admin });
        db.Set("other", Password("other"), new() { ["b"] = Role.Admin });
        return db;
    }

    private static UserDatabase? _users;
    private static readonly Lock UsersLock = new();

    /// <summary>The shared users database (hashing is deliberately slow, so it is made once).</summary>
    public static UserDatabase SharedUsers
    {
        get
        {
            lock (UsersLock)
            {
                return _users ??= MakeUsers();
            }
        }
    }

    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null, string[]? prefixes = null, bool noAuth = false)
    {
        string root = Path.Combine(Path.GetTempPath(), "strata-server-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var log = new StringWriter();
        var repos = (prefixes ?? [""]).Select(p => new ServedRepository(p, new LocalStore(Path.Combine(root, p.Length == 0 ? "root" : p)))).ToList();
        var options = new ServerOptions
        {
            Repositories = repos,
            Listen = ["127.0.0.1:0"],
            Users = noAuth ? null : SharedUsers,
            NoAuth = noAuth,
            RequestLog = TextWriter.Synchronized(log),
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        options = configure?.Invoke(options) ?? options;
        var server = new RestServer(options);
        await server.StartAsync(CancellationToken.None);
        return new TestServer(root, server, server.Addresses[0], log);
    }

    public HttpClient Client(string? user, string? password = null)
    {
        var c = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        if (user is not null)
        {
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + (password ?? Password(user)))));
        }
        return c;
    }

    /// <summary>A RestStore for <paramref name="prefix"/>, logged in as <paramref name="user"/> (null: no login).</summary>
    public RestStore Store(string? user, string prefix = "") =>
        new(new Uri(Address, prefix.Length == 0 ? "/" : "/" + prefix + "/"), user, user is null ? null : Password(user));

    public string Url(string? user, string prefix = "")
    {
        string auth = user is null ? "" : $"{user}:{Password(user)}@";
        return $"rest:http://{auth}{Address.Host}:{Address.Port}/{prefix}";
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(CancellationToken.None);
        await Server.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
