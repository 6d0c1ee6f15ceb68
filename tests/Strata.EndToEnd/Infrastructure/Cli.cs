using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>What one run of the CLI produced. Stdout is kept as bytes (dump writes binary data).</summary>
internal sealed record CliResult(string[] Args, int ExitCode, byte[] StdoutBytes, string Stderr, TimeSpan Elapsed)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);

    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>For assertion messages: the command and everything it printed.</summary>
    public override string ToString() =>
        $"strata {string.Join(' ', Args)}\nexit code {ExitCode} after {Elapsed.TotalSeconds:F1}s\n--- stdout ---\n{Truncate(Stdout)}\n--- stderr ---\n{Truncate(Stderr)}";

    private static string Truncate(string s) => s.Length <= 6000 ? s : s[..3000] + "\n[...]\n" + s[^3000..];

    /// <summary>The JSON lines of a --json run whose message_type is <paramref name="type"/>.</summary>
    public List<JsonElement> JsonMessages(string type)
    {
        var list = new List<JsonElement>();
        foreach (string line in StdoutLines)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("message_type", out JsonElement t) && t.GetString() == type)
            {
                list.Add(doc.RootElement.Clone());
            }
        }
        return list;
    }

    /// <summary>The one summary line of a --json backup or restore.</summary>
    public JsonElement Summary
    {
        get
        {
            var all = JsonMessages("summary");
            Assert.True(all.Count == 1, $"expected exactly one JSON summary line\n{this}");
            return all[0];
        }
    }

    /// <summary>Each non-empty stdout line parsed as a JSON object (key list --json, find --json).</summary>
    public List<JsonElement> JsonLines() =>
        StdoutLines.Where(l => l.StartsWith('{')).Select(l =>
        {
            using var doc = JsonDocument.Parse(l);
            return doc.RootElement.Clone();
        }).ToList();
}

/// <summary>Runs the real CLI binary as a child process, with its own environment and a hard timeout.</summary>
internal static class Cli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(180);

    /// <summary>Variables of the test runner's own environment that must not leak into a run.</summary>
    private static readonly string[] Scrubbed =
        ["STRATA_REPOSITORY", "STRATA_PASSWORD", "STRATA_PASSWORD_FILE", "STRATA_DEBUG", "STRATA_DEBUG_MEMORY", "XDG_CACHE_HOME"];

    public static ProcessStartInfo StartInfo(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> env, string? runAs)
    {
        ProcessStartInfo psi;
        if (runAs is null)
        {
            psi = new ProcessStartInfo(StrataBinary.Path);
        }
        else
        {
            // runuser keeps the environment (except HOME, SHELL, USER, LOGNAME), so the password and cache still apply.
            psi = new ProcessStartInfo("runuser");
            psi.ArgumentList.Add("-u");
            psi.ArgumentList.Add(runAs);
            psi.ArgumentList.Add("--");
            psi.ArgumentList.Add(StrataBinary.Path);
        }
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardInput = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.WorkingDirectory = "/";
        foreach (string k in Scrubbed)
        {
            psi.Environment.Remove(k);
        }
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in env)
        {
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }
        return psi;
    }

    /// <param name="stdin">bytes for the CLI's standard input (then closed); null: closed at once.</param>
    public static async Task<CliResult> RunAsync(IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> env, string? runAs = null, TimeSpan? timeout = null, byte[]? stdin = null)
    {
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(StartInfo(args, env, runAs)) ?? throw new InvalidOperationException("cannot start strata");
        var stdout = new MemoryStream();
        Task copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        // No terminal and no input: a run that wants a passphrase prompt fails instead of hanging.
        Task feed = stdin is null ? Task.CompletedTask : FeedAsync(p.StandardInput.BaseStream, stdin);
        if (stdin is null)
        {
            p.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            await Task.WhenAll(copyOut, stderr);
            var partial = new CliResult([.. args], -1, stdout.ToArray(), stderr.Result, sw.Elapsed);
            throw new TimeoutException($"strata did not finish within {(timeout ?? DefaultTimeout).TotalSeconds}s\n{partial}");
        }
        await Task.WhenAll(copyOut, stderr, feed);
        return new CliResult([.. args], p.ExitCode, stdout.ToArray(), stderr.Result, sw.Elapsed);
    }

    /// <summary>Writes the input and closes the pipe; a CLI that stops reading early is not an error here.</summary>
    private static async Task FeedAsync(Stream input, byte[] data)
    {
        try
        {
            await input.WriteAsync(data);
        }
        catch (IOException)
        {
        }
        finally
        {
            try
            {
                input.Close();
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>Assertions every CLI failure must meet.</summary>
internal static class CliAssert
{
    public static void Ok(CliResult r) => Assert.True(r.ExitCode == 0, $"expected exit code 0\n{r}");

    public static void Exit(int expected, CliResult r) => Assert.True(r.ExitCode == expected, $"expected exit code {expected}\n{r}");

    /// <summary>
    /// A user-facing failure: the expected exit code, a message on stderr containing every fragment
    /// (case-insensitive), and no .NET stack trace.
    /// </summary>
    public static void FailsCleanly(int expected, CliResult r, params string[] fragments)
    {
        Exit(expected, r);
        NoStackTrace(r);
        Assert.False(string.IsNullOrWhiteSpace(r.Stderr), $"expected an error message on stderr\n{r}");
        foreach (string f in fragments)
        {
            Assert.True(r.Stderr.Contains(f, StringComparison.OrdinalIgnoreCase), $"expected stderr to mention \"{f}\"\n{r}");
        }
    }

    public static void NoStackTrace(CliResult r)
    {
        Assert.False(r.Stderr.Contains("   at ", StringComparison.Ordinal), $"stderr contains a stack trace\n{r}");
        Assert.False(r.Stdout.Contains("   at ", StringComparison.Ordinal), $"stdout contains a stack trace\n{r}");
        Assert.False(r.Stderr.Contains("internal error", StringComparison.OrdinalIgnoreCase), $"an unclassified exception reached the user\n{r}");
    }
}
