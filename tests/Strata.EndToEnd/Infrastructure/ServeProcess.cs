using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>A real `strata serve` child process on a free loopback port; stopped (SIGTERM, then kill) on dispose.</summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServeProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public Process Process => _process;

    /// <summary>rest:http://[user:password@]127.0.0.1:PORT/[prefix]</summary>
    public string Url(string? user = null, string? password = null, string prefix = "") =>
        $"rest:http://{(user is null ? "" : $"{user}:{password}@")}127.0.0.1:{Port}/{prefix}";

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Starts `strata serve --listen 127.0.0.1:PORT ARGS...` and waits until it answers HTTP.</summary>
    public static async Task<ServeProcess> StartAsync(IReadOnlyDictionary<string, string?> env, params string[] args)
    {
        int port = FreePort();
        ProcessStartInfo psi = Cli.StartInfo(["serve", "--listen", $"127.0.0.1:{port}", .. args], env, runAs: null);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start strata serve");
        p.StandardInput.Close();
        var serve = new ServeProcess(p, port);
        p.OutputDataReceived += (_, e) => serve.Append(e.Data);
        p.ErrorDataReceived += (_, e) => serve.Append(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (p.HasExited)
            {
                throw new InvalidOperationException($"strata serve exited with {p.ExitCode}:\n{serve.Output}");
            }
            try
            {
                using var r = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
                return serve;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    p.Kill(entireProcessTree: true);
                    throw new TimeoutException($"strata serve did not answer within 60s:\n{serve.Output}");
                }
                await Task.Delay(100);
            }
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>SIGTERM, as systemd stops a service; the server finishes what is in flight and exits.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
            {
                kill?.WaitForExit();
            }
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no cleanup runs.</summary>
    public void Kill9()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(15));
        _process.Dispose();
    }
}
