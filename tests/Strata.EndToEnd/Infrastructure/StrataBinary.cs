using System.Diagnostics;
using Strata.Platform;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>
/// The published CLI (out/strata), built by ./build.sh at most once per test run: when out/strata is missing or
/// older than any source (src/**/*.cs, *.csproj, *.props, the repository-wide props), judged by the mtime of out/strata
/// (and of its target when it is a symlink), which every build rewrites.
/// A file lock keeps two test processes from publishing into out/ at once.
/// Others rebuild out/ while tests run (build.sh starts by deleting the old output), so the run uses a private copy
/// of the published folder, taken once and checked with --help: every test of a run exercises the same binary.
/// </summary>
internal static class StrataBinary
{
    private static readonly Lazy<string> Built = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Absolute path of this run's copy of the CLI, built first if needed.</summary>
    public static string Path => Built.Value;

    public static string RepoRoot { get; } = FindRepoRoot();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "build.sh")) && Directory.Exists(System.IO.Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"cannot find the repository root (a folder with build.sh and src/) above {AppContext.BaseDirectory}");
    }

    private static string Locate()
    {
        string link = System.IO.Path.Combine(RepoRoot, "out", "strata");
        const int attempts = 3;
        for (int attempt = 1; ; attempt++)
        {
            using (AcquireBuildLock())
            {
                if (NeedsBuild(link, out string why))
                {
                    Build(why);
                }
                if (TryCopy(Resolve(link), out string copy, out string problem))
                {
                    return copy;
                }
                if (attempt == attempts)
                {
                    throw new InvalidOperationException($"cannot take a working copy of the published CLI: {problem}");
                }
            }
            // someone else's build.sh is replacing out/publish right now
            Thread.Sleep(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Copies the folder of the published binary (without debug symbols) to a private folder and checks that the copy runs.</summary>
    private static bool TryCopy(string? published, out string binary, out string problem)
    {
        string dir = System.IO.Path.Combine("/tmp", $"strata-e2e-bin-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        binary = System.IO.Path.Combine(dir, "strata");
        if (published is null)
        {
            problem = "out/strata is missing";
            return false;
        }
        string publish = System.IO.Path.GetDirectoryName(published)!;
        try
        {
            Directory.CreateDirectory(dir);
            Posix.Chmod(Posix.ToBytes(dir), Convert.ToUInt32("755", 8)); // 'nobody' runs it too
            foreach (string f in Directory.EnumerateFiles(publish))
            {
                if (!f.EndsWith(".dbg", StringComparison.Ordinal) && !f.EndsWith(".pdb", StringComparison.Ordinal))
                {
                    File.Copy(f, System.IO.Path.Combine(dir, System.IO.Path.GetFileName(f)));
                }
            }
            foreach (string sub in Directory.EnumerateDirectories(publish))
            {
                CopyTree(sub, System.IO.Path.Combine(dir, System.IO.Path.GetFileName(sub)));
            }
            var psi = new ProcessStartInfo(binary, ["--help"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var p = Process.Start(psi)!;
            Task<string> err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromSeconds(60)) || p.ExitCode != 0)
            {
                problem = $"the copy of out/strata does not run: {err.Result}";
                return false;
            }
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(dir);
            problem = "";
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            TryDelete(dir);
            problem = e.Message;
            return false;
        }
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.EnumerateFiles(from))
        {
            File.Copy(f, System.IO.Path.Combine(to, System.IO.Path.GetFileName(f)));
        }
        foreach (string d in Directory.EnumerateDirectories(from))
        {
            CopyTree(d, System.IO.Path.Combine(to, System.IO.Path.GetFileName(d)));
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a leftover copy in /tmp is harmless
        }
    }

    /// <summary>What out/strata resolves to (build.sh has made it both a symlink into out/publish and the binary itself).</summary>
    private static string? Resolve(string link)
    {
        try
        {
            var info = new FileInfo(link);
            if (!info.Exists)
            {
                return null;
            }
            return info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool NeedsBuild(string link, out string why)
    {
        string? binary = Resolve(link);
        if (binary is null || !Posix.TryLStat(Posix.ToBytes(link), out FileStat linkStat, out _) || !Posix.TryLStat(Posix.ToBytes(binary), out FileStat binStat, out _))
        {
            why = "out/strata is missing";
            return true;
        }
        if (!File.Exists(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(binary)!, "strata-server")))
        {
            why = "out/strata-server ('strata serve' runs it) is missing";
            return true;
        }
        // The newer of the link and the binary: a build writes at least one of them.
        long built = Math.Max(linkStat.MTimeNs, binStat.MTimeNs);
        var (newest, newestPath) = NewestSource();
        if (newest > built)
        {
            why = $"{newestPath} is newer than out/strata";
            return true;
        }
        why = "";
        return false;
    }

    private static (long MTimeNs, string Path) NewestSource()
    {
        long newest = 0;
        string which = "";
        void Consider(string file)
        {
            if (Posix.TryLStat(Posix.ToBytes(file), out FileStat st, out _) && st.MTimeNs > newest)
            {
                newest = st.MTimeNs;
                which = file;
            }
        }
        foreach (string f in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "build.sh" })
        {
            Consider(System.IO.Path.Combine(RepoRoot, f));
        }
        var stack = new Stack<string>();
        stack.Push(System.IO.Path.Combine(RepoRoot, "src"));
        while (stack.Count > 0)
        {
            string dir = stack.Pop();
            foreach (string sub in Directory.EnumerateDirectories(dir))
            {
                string name = System.IO.Path.GetFileName(sub);
                if (name is not ("bin" or "obj"))
                {
                    stack.Push(sub);
                }
            }
            foreach (string f in Directory.EnumerateFiles(dir))
            {
                if (f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal) || f.EndsWith(".props", StringComparison.Ordinal))
                {
                    Consider(f);
                }
            }
        }
        return (newest, which);
    }

    /// <summary>Runs ./build.sh; others may be editing src/ right now, so a failed build is retried after a pause.</summary>
    private static void Build(string why)
    {
        const int attempts = 3;
        string lastOutput = "";
        for (int attempt = 1; attempt <= attempts; attempt++)
        {
            var psi = new ProcessStartInfo("bash")
            {
                WorkingDirectory = RepoRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            psi.ArgumentList.Add(System.IO.Path.Combine(RepoRoot, "build.sh"));
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start build.sh");
            Task<string> stdout = p.StandardOutput.ReadToEndAsync();
            Task<string> stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromMinutes(15)))
            {
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("./build.sh did not finish in 15 minutes");
            }
            lastOutput = stdout.Result + stderr.Result;
            if (p.ExitCode == 0)
            {
                return;
            }
            if (attempt < attempts)
            {
                Thread.Sleep(TimeSpan.FromSeconds(60));
            }
        }
        throw new InvalidOperationException($"./build.sh failed {attempts} times (needed because {why}):\n{lastOutput}");
    }

    private static FileStream AcquireBuildLock()
    {
        string lockPath = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "strata-e2e-build.lock");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(15);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(500);
            }
        }
    }
}
