namespace Strata.Archiver;

/// <summary>
/// Where git finds the ignore files that are not .gitignore: the repository's info/exclude and the user's
/// global excludes file (core.excludesFile, else $XDG_CONFIG_HOME/git/ignore, else ~/.config/git/ignore).
/// Reads git's config files directly (system, XDG, ~/.gitconfig, the repository's config; later ones win) so a
/// machine without git still gets git's view. Not followed: [include] / [includeIf] sections.
/// </summary>
public static class GitExcludeSources
{
    /// <summary>The environment git reads its configuration locations from (injected so tests need not touch the process's).</summary>
    public sealed record GitEnvironment(string? Home, string? XdgConfigHome, bool NoSystem = false, string? ConfigSystem = null, string? ConfigGlobal = null)
    {
        public static GitEnvironment FromProcess() => new(
            NonEmpty("HOME"),
            NonEmpty("XDG_CONFIG_HOME"),
            Environment.GetEnvironmentVariable("GIT_CONFIG_NOSYSTEM") is { Length: > 0 } v && v is not ("0" or "false"),
            NonEmpty("GIT_CONFIG_SYSTEM"),
            NonEmpty("GIT_CONFIG_GLOBAL"));

        private static string? NonEmpty(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
    }

    /// <summary>The git directory of a work tree root: "ROOT/.git", or where a ".git" file ("gitdir: X") points.</summary>
    public static string? GitDir(string root)
    {
        string dotGit = Path.Combine(root, ".git");
        if (Directory.Exists(dotGit))
        {
            return dotGit;
        }
        if (!File.Exists(dotGit))
        {
            return null;
        }
        try
        {
            string first = File.ReadLines(dotGit).FirstOrDefault() ?? "";
            if (!first.StartsWith("gitdir:", StringComparison.Ordinal))
            {
                return null;
            }
            string dir = first["gitdir:".Length..].Trim();
            return Path.GetFullPath(Path.IsPathRooted(dir) ? dir : Path.Combine(root, dir));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The directory shared by all work trees of a repository (a linked work tree's git dir names it in "commondir").</summary>
    public static string CommonDir(string gitDir)
    {
        string file = Path.Combine(gitDir, "commondir");
        try
        {
            if (File.Exists(file))
            {
                string c = File.ReadAllText(file).Trim();
                return Path.GetFullPath(Path.IsPathRooted(c) ? c : Path.Combine(gitDir, c));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return gitDir;
    }

    /// <summary>The global excludes file in force for a repository whose common git dir is <paramref name="commonDir"/> (it may not exist).</summary>
    public static string? GlobalExcludesFile(string? commonDir, GitEnvironment env)
    {
        string? home = env.Home;
        string? xdg = env.XdgConfigHome;
        string? xdgGit = !string.IsNullOrEmpty(xdg) ? Path.Combine(xdg, "git") : home is not null ? Path.Combine(home, ".config", "git") : null;
        var configs = new List<string>();
        if (!env.NoSystem)
        {
            configs.Add(env.ConfigSystem ?? "/etc/gitconfig");
        }
        if (env.ConfigGlobal is { } global)
        {
            configs.Add(global);
        }
        else
        {
            if (xdgGit is not null)
            {
                configs.Add(Path.Combine(xdgGit, "config"));
            }
            if (home is not null)
            {
                configs.Add(Path.Combine(home, ".gitconfig"));
            }
        }
        if (commonDir is not null)
        {
            configs.Add(Path.Combine(commonDir, "config"));
        }
        string? value = null;
        foreach (string c in configs)
        {
            value = ReadExcludesFile(c) ?? value;
        }
        if (value is not null)
        {
            if (value == "~" || value.StartsWith("~/", StringComparison.Ordinal))
            {
                value = home is null ? null : home + value[1..];
            }
            return value;
        }
        return xdgGit is null ? null : Path.Combine(xdgGit, "ignore");
    }

    /// <summary>core.excludesFile from one git config file (the last one set wins), or null.</summary>
    internal static string? ReadExcludesFile(string configFile)
    {
        string[] lines;
        try
        {
            if (!File.Exists(configFile))
            {
                return null;
            }
            lines = File.ReadAllLines(configFile);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        string? section = null;
        string? value = null;
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            if (line[0] == '[')
            {
                int close = line.IndexOf(']', StringComparison.Ordinal);
                section = close > 0 ? line[1..close].Trim().ToLowerInvariant() : null;
                line = close > 0 ? line[(close + 1)..].Trim() : "";
                if (line.Length == 0)
                {
                    continue;
                }
            }
            if (section != "core")
            {
                continue;
            }
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0 || !line[..eq].Trim().Equals("excludesfile", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            value = Unquote(line[(eq + 1)..].Trim());
        }
        return value;
    }

    /// <summary>A config value: double quotes removed, backslash escapes resolved, an unquoted '#' or ';' starts a comment.</summary>
    private static string Unquote(string v)
    {
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < v.Length; i++)
        {
            char c = v[i];
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == '\\' && i + 1 < v.Length)
            {
                char n = v[++i];
                sb.Append(n switch { 'n' => '\n', 't' => '\t', _ => n });
            }
            else if (!quoted && c is '#' or ';')
            {
                break;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString().TrimEnd();
    }
}
