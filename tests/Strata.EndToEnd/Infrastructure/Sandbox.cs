using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Strata.Platform;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>
/// One test's world: a scratch folder under /var/tmp (a disk file system with xattrs and sparse files) holding
/// the source tree, the repository, the restore targets and the test's own XDG_CACHE_HOME. Runs the CLI against
/// that repository with the sandbox's passphrase. Deleted (with rm -rf, which copes with any name) on dispose.
/// </summary>
internal sealed class Sandbox : IDisposable
{
    public const string Password = "correct horse battery staple";

    public Sandbox(string name)
    {
        Root = Path.Combine("/var/tmp", $"strata-e2e-{name}-{Guid.NewGuid().ToString("N")[..12]}");
        Directory.CreateDirectory(Root);
        // Readable and searchable by everyone: some tests run the CLI as 'nobody'.
        Posix.Chmod(Posix.ToBytes(Root), Convert.ToUInt32("755", 8));
        Source = Path.Combine(Root, "src");
        Directory.CreateDirectory(Source);
        Repo = Path.Combine(Root, "repo");
        Cache = Path.Combine(Root, "cache");
        Directory.CreateDirectory(Cache);
    }

    public string Root { get; }
    public string Source { get; }
    public string Repo { get; }
    public string Cache { get; }

    /// <summary>Environment of every run: the passphrase, this sandbox's cache, and a HOME that holds no default repository.</summary>
    public Dictionary<string, string?> Env(string? password = Password, string? cache = null) => new()
    {
        ["STRATA_PASSWORD"] = password,
        ["XDG_CACHE_HOME"] = cache ?? Cache,
        ["HOME"] = Root,
    };

    /// <summary>Runs strata --repo REPO ARGS... with the sandbox's passphrase.</summary>
    public Task<CliResult> Strata(params string[] args) => StrataWith(Env(), args);

    public Task<CliResult> StrataWith(IReadOnlyDictionary<string, string?> env, params string[] args) =>
        Cli.RunAsync(["--repo", Repo, .. args], env);

    /// <summary>Runs strata --repo REPO ARGS... with <paramref name="stdin"/> as its standard input.</summary>
    public Task<CliResult> StrataInput(byte[] stdin, params string[] args) =>
        Cli.RunAsync(["--repo", Repo, .. args], Env(), stdin: stdin);

    public async Task InitAsync(params string[] extra)
    {
        CliAssert.Ok(await Strata(["init", .. extra]));
    }

    /// <summary>A fresh, empty folder for a restore.</summary>
    public string NewTarget(string name)
    {
        string t = Path.Combine(Root, name);
        Assert.False(Directory.Exists(t), $"{t} exists already");
        return t;
    }

    /// <summary>Where a restore into <paramref name="target"/> puts the absolute path <paramref name="original"/>.</summary>
    public static string Restored(string target, string original) => target + original;

    public string Write(string relative, byte[] content)
    {
        string path = Path.Combine(Source, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    public string Write(string relative, string content) => Write(relative, Encoding.UTF8.GetBytes(content));

    public static byte[] RandomBytes(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>The exact bytes at a path given as bytes (names need not be UTF-8).</summary>
    public static byte[] ReadAll(byte[] path)
    {
        using SafeFileHandle h = Posix.OpenRead(path);
        long len = RandomAccess.GetLength(h);
        byte[] data = new byte[len];
        int at = 0;
        while (at < data.Length)
        {
            int n = RandomAccess.Read(h, data.AsSpan(at), at);
            if (n == 0)
            {
                break;
            }
            at += n;
        }
        return data;
    }

    /// <summary>Runs a helper program (setfattr, truncate, ...) and requires success.</summary>
    public static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed with {p.ExitCode}: {err.Result}");
        return output;
    }

    public static uint Octal(string s) => Convert.ToUInt32(s, 8);

    public void Dispose()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("rm", ["-rf", "--one-file-system", Root]) { UseShellExecute = false });
            p?.WaitForExit();
        }
        catch (Exception)
        {
            // best effort: a leftover scratch folder must not fail the test
        }
    }
}
