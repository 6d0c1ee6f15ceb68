using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Sftp;
using Strata.Stores;
using Strata.Stores.Sftp;

namespace Strata.Conformance;

/// <summary>
/// The OpenSSH server that scripts/services/sshd.sh starts on 127.0.0.1:2222 (user stratatest, whose key and the
/// server's known_hosts line sit in the script's state folder), and one fresh folder in the user's home for one test
/// class (removed at the end). When the server is down, every test that needs it is skipped with what to run, unless
/// STRATA_REQUIRE_DATABASES=1 (set by scripts/test.sh) or STRATA_REQUIRE_SFTP=1 makes that a failure.
/// </summary>
public sealed class SshdFixture : IAsyncLifetime
{
    public const string Host = "127.0.0.1";
    public const int Port = 2222;
    public const string User = "stratatest";
    public const string Password = "stratatest-password";

    /// <summary>The script's state folder: $STRATA_SERVICES_DIR/sshd, else .services/sshd in the checkout.</summary>
    public static string StateDir { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("STRATA_SERVICES_DIR") is { Length: > 0 } d ? d : Path.Combine(RepoRoot(), ".services"), "sshd");

    public string KeyFile => Path.Combine(StateDir, "client_ed25519");

    public string KnownHostsFile => Path.Combine(StateDir, "known_hosts");

    public string SshdConfig => Path.Combine(StateDir, "sshd_config");

    /// <summary>This class's folder, relative to the user's home.</summary>
    public string Folder { get; } = "strata-conf-" + Guid.NewGuid().ToString("N")[..12];

    public string? Problem { get; private set; }

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
            Problem = $"no SSH server answers on {Host}:{Port}: run scripts/services/sshd.sh start (it installs what it needs)";
            return;
        }
        if (!File.Exists(KeyFile) || !File.Exists(KnownHostsFile))
        {
            Problem = $"an SSH server answers on {Host}:{Port} but {KeyFile} or {KnownHostsFile} is missing: run scripts/services/sshd.sh start from this checkout";
            return;
        }
        try
        {
            using SftpClient client = Connect();
            client.CreateDirectory(Folder);
        }
        catch (Exception e) when (e is SshException or SocketException or IOException)
        {
            Problem = $"the SSH server on {Host}:{Port} does not let {User} create {Folder}: {e.Message}";
        }
    }

    /// <summary>Skips (server down, nothing requires it) or fails (otherwise) a test that needs the server.</summary>
    public void RequireServer()
    {
        if (Problem is null)
        {
            return;
        }
        bool required = Environment.GetEnvironmentVariable("STRATA_REQUIRE_DATABASES") == "1" || Environment.GetEnvironmentVariable("STRATA_REQUIRE_SFTP") == "1";
        Skip.IfNot(required, Problem);
        throw new InvalidOperationException(Problem + " (STRATA_REQUIRE_DATABASES=1 or STRATA_REQUIRE_SFTP=1 makes this a failure)");
    }

    public SftpStoreOptions Options(string path, int port = Port, string? knownHosts = null) =>
        new(new SftpLocation(User, Host, port, path), [KeyFile], null, knownHosts ?? KnownHostsFile);

    /// <summary>A plain SSH.NET client as the test user, to look behind the store's back (loopback: no host key check).</summary>
    public SftpClient Connect(int port = Port)
    {
        var client = new SftpClient(Host, port, User, new PrivateKeyFile(KeyFile));
        client.Connect();
        return client;
    }

    /// <summary>The server's host key line from the script's known_hosts ("[127.0.0.1]:2222 ssh-ed25519 AAAA...").</summary>
    public string HostKeyLine => File.ReadLines(KnownHostsFile).First(l => l.StartsWith($"[{Host}]:{Port} ", StringComparison.Ordinal));

    public Task DisposeAsync()
    {
        if (Problem is null)
        {
            try
            {
                using SftpClient client = Connect();
                DeleteTree(client, Folder);
            }
            catch (Exception e) when (e is SshException or SocketException or IOException)
            {
                // A leftover folder in a throwaway server is harmless.
            }
        }
        return Task.CompletedTask;
    }

    public static void DeleteTree(SftpClient client, string folder)
    {
        foreach (ISftpFile entry in client.ListDirectory(folder))
        {
            if (entry.Name is "." or "..")
            {
                continue;
            }
            if (entry.IsDirectory)
            {
                DeleteTree(client, entry.FullName);
            }
            else
            {
                client.DeleteFile(entry.FullName);
            }
        }
        client.DeleteDirectory(folder);
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

/// <summary>
/// A second sshd of this test's own, started from the service's sshd_config on a free port, that a test can cut off:
/// <see cref="KillSessions"/> kills the per-connection processes (a dropped connection), <see cref="Kill"/> the whole
/// server. Only processes this object started (and their children) are killed, each by its id. Needs root, as sshd does.
/// </summary>
public sealed class OwnSshd : IDisposable
{
    private readonly Process _process;
    private readonly string _knownHosts;

    private OwnSshd(Process process, int port, string knownHosts)
    {
        _process = process;
        Port = port;
        _knownHosts = knownHosts;
    }

    public int Port { get; }

    /// <summary>A known_hosts file naming this server ([127.0.0.1]:port) with the service's host key.</summary>
    public string KnownHostsFile => _knownHosts;

    public static async Task<OwnSshd> StartAsync(SshdFixture sshd)
    {
        Skip.If(Environment.UserName != "root", "starting an sshd of its own needs root");
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        string knownHosts = Path.Combine(Path.GetTempPath(), $"strata-known-hosts-{Guid.NewGuid():N}");
        // The host key this sshd_config names (the service's own may be another checkout's).
        string[] key = (await File.ReadAllTextAsync(Path.Combine(SshdFixture.StateDir, "ssh_host_ed25519_key.pub"))).Split(' ');
        await File.WriteAllTextAsync(knownHosts, $"[{SshdFixture.Host}]:{port} {key[0]} {key[1]}\n");
        var start = new ProcessStartInfo("/usr/sbin/sshd")
        {
            ArgumentList = { "-D", "-f", sshd.SshdConfig, "-o", $"Port={port}", "-o", "PidFile=none", "-E", knownHosts + ".log" },
            UseShellExecute = false,
        };
        var process = Process.Start(start)!;
        var own = new OwnSshd(process, port, knownHosts);
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(SshdFixture.Host, port);
                return own;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        own.Dispose();
        throw new InvalidOperationException($"the test's own sshd did not answer on port {port}; see {knownHosts}.log");
    }

    /// <summary>Kills every process the server forked for a connection: each client sees its connection drop.</summary>
    public int KillSessions() => KillAll(Descendants(_process.Id));

    /// <summary>Kills the server and its sessions (kill -9), as a crash or a power cut would.</summary>
    public void Kill()
    {
        var pids = Descendants(_process.Id);
        pids.Add(_process.Id);
        KillAll(pids);
        _process.WaitForExit(5000);
    }

    private static int KillAll(List<int> pids)
    {
        foreach (int pid in pids)
        {
            try
            {
                Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone.
            }
        }
        return pids.Count;
    }

    /// <summary>The ids of every process below <paramref name="root"/> (from the parent ids in /proc/*/stat).</summary>
    private static List<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // pid (comm) state ppid ...; comm may hold spaces and parentheses, so read after the last ')'.
                string[] after = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(after[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            int p = frontier.Dequeue();
            foreach (var (child, parent) in parents)
            {
                if (parent == p)
                {
                    found.Add(child);
                    frontier.Enqueue(child);
                }
            }
        }
        return found;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
        }
        _process.Dispose();
        File.Delete(_knownHosts);
        File.Delete(_knownHosts + ".log");
    }
}
