namespace Strata.Sources;

/// <summary>Finding the external programs a database source needs, and their versions.</summary>
internal static class Tools
{
    /// <summary>The first of <paramref name="names"/> found as an executable file on PATH, else a message saying what to install.</summary>
    public static string Find(string install, params string[] names)
    {
        string[] dirs = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in names)
        {
            foreach (string dir in dirs)
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                {
                    return candidate;
                }
            }
        }
        throw new CommandFailedException($"{string.Join(" or ", names)} is not on PATH: install {install}");
    }

    /// <summary>The first line of `PROGRAM --version` (recorded in the snapshot; a restore can tell what wrote a dump).</summary>
    public static async Task<string> VersionAsync(string program, CancellationToken ct)
    {
        var (status, stdout, stderr) = await ChildProcess.RunAsync(new CommandSpec(program, ["--version"]), null, ct).ConfigureAwait(false);
        if (status != 0)
        {
            throw CommandFailedException.Exited(Path.GetFileName(program), status, "when asked for its version (--version)", stderr);
        }
        return stdout.Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "";
    }
}
