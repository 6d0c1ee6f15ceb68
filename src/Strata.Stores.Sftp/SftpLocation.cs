namespace Strata.Stores.Sftp;

/// <summary>
/// Where a repository lives on an SFTP server, parsed from restic's two forms:
/// <c>sftp:user@host:/abs/path</c> or <c>sftp:user@host:relative/path</c> (port 22), and
/// <c>sftp://user@host:port//abs/path</c> or <c>sftp://user@host:port/relative/path</c>.
/// A relative path is relative to the login folder (usually the user's home). Without a user, the local user name is used, as ssh does.
/// </summary>
/// <param name="Password">Only from the <c>sftp://user:password@host/...</c> form; never shown (see <see cref="Display"/>).</param>
public sealed record SftpLocation(string User, string Host, int Port, string Path, string? Password = null)
{
    public const int DefaultPort = 22;

    /// <summary>The location as messages show it, in the form it was most likely written, without a password.</summary>
    public string Display => Port == DefaultPort
        ? $"sftp:{User}@{HostForUrl}:{Path}"
        : $"sftp://{User}@{HostForUrl}:{Port}/{Path}";

    /// <summary>"user@host:port", for messages about the connection.</summary>
    public string Server => $"{User}@{HostForUrl}:{Port}";

    /// <summary>The host as known_hosts names it: "host" on port 22, "[host]:port" otherwise.</summary>
    public string KnownHostsName => Port == DefaultPort ? Host : $"[{Host}]:{Port}";

    private string HostForUrl => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;

    private const string Forms = "use sftp:user@host:/absolute/path, sftp:user@host:relative/path, sftp://user@host:port//absolute/path or sftp://user@host:port/relative/path";

    /// <summary>Parses a location; throws <see cref="ArgumentException"/> with a message saying what is wrong and which forms work.</summary>
    public static SftpLocation Parse(string location, string? defaultUser = null)
    {
        if (!location.StartsWith("sftp:", StringComparison.Ordinal))
        {
            throw new ArgumentException($"not an sftp: location; {Forms}");
        }
        return location.StartsWith("sftp://", StringComparison.Ordinal)
            ? ParseUrl(location["sftp://".Length..], defaultUser)
            : ParseScp(location["sftp:".Length..], defaultUser);
    }

    /// <summary>
    /// The location with any password replaced by ***, for messages about a location that may not parse
    /// (sftp://user:secret@host/... and the unsupported sftp:user:secret@host:path alike).
    /// </summary>
    public static string Redact(string location)
    {
        int start = location.StartsWith("sftp://", StringComparison.Ordinal) ? "sftp://".Length : location.StartsWith("sftp:", StringComparison.Ordinal) ? "sftp:".Length : -1;
        int at = location.LastIndexOf('@');
        if (start < 0 || at < start)
        {
            return location;
        }
        int colon = location.IndexOf(':', start);
        return colon >= 0 && colon < at ? location[..(colon + 1)] + "***" + location[at..] : location;
    }

    /// <summary>sftp:user@host:path (scp-like): the first colon after the host ends it; no port.</summary>
    private static SftpLocation ParseScp(string rest, string? defaultUser)
    {
        if (rest.Length == 0)
        {
            throw new ArgumentException($"the location names no server; {Forms}");
        }
        (string? user, string hostAndPath) = SplitUser(rest);
        if (user is not null && user.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException($"a password in the location is not accepted in this form: set {SftpStoreOptions.PasswordVariable} (or use a key)");
        }
        string host;
        string path;
        if (hostAndPath.StartsWith('['))
        {
            int close = hostAndPath.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= hostAndPath.Length || hostAndPath[close + 1] != ':')
            {
                throw new ArgumentException($"a bracketed host must be followed by ':' and the path (sftp:user@[::1]:/path); {Forms}");
            }
            host = hostAndPath[1..close];
            path = hostAndPath[(close + 2)..];
        }
        else
        {
            int colon = hostAndPath.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                throw new ArgumentException($"no ':' between the host and the path; {Forms}");
            }
            host = hostAndPath[..colon];
            path = hostAndPath[(colon + 1)..];
        }
        return Build(user, host, DefaultPort, path, password: null, defaultUser);
    }

    /// <summary>sftp://[user[:password]@]host[:port]/path; the path is what follows the first '/' after the host ("//abs" is absolute).</summary>
    private static SftpLocation ParseUrl(string rest, string? defaultUser)
    {
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            throw new ArgumentException($"no path after the host; {Forms}");
        }
        string authority = rest[..slash];
        string path = rest[(slash + 1)..];
        (string? userInfo, string hostPort) = SplitUser(authority);
        string? user = userInfo;
        string? password = null;
        if (userInfo is not null && userInfo.IndexOf(':', StringComparison.Ordinal) is var c and >= 0)
        {
            user = userInfo[..c];
            password = Uri.UnescapeDataString(userInfo[(c + 1)..]);
        }
        if (user is not null)
        {
            user = Uri.UnescapeDataString(user);
        }
        string host = hostPort;
        int port = DefaultPort;
        string? portText = null;
        if (hostPort.StartsWith('['))
        {
            int close = hostPort.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new ArgumentException($"'[' without ']' in the host; {Forms}");
            }
            host = hostPort[1..close];
            string after = hostPort[(close + 1)..];
            if (after.Length > 0)
            {
                portText = after.StartsWith(':') ? after[1..] : throw new ArgumentException($"unexpected '{after}' after the host; {Forms}");
            }
        }
        else if (hostPort.LastIndexOf(':') is var colon and >= 0)
        {
            host = hostPort[..colon];
            portText = hostPort[(colon + 1)..];
        }
        if (portText is not null)
        {
            if (!int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
            {
                throw new ArgumentException($"'{portText}' is not a port number (1-65535); {Forms}");
            }
        }
        return Build(user, host, port, Uri.UnescapeDataString(path), password, defaultUser);
    }

    /// <summary>Splits at the last '@' (a user name may hold one: user@domain@host, as restic allows).</summary>
    private static (string? User, string Remainder) SplitUser(string s)
    {
        int at = s.LastIndexOf('@');
        return at < 0 ? (null, s) : (s[..at], s[(at + 1)..]);
    }

    private static SftpLocation Build(string? user, string host, int port, string path, string? password, string? defaultUser)
    {
        if (host.Length == 0)
        {
            throw new ArgumentException($"the host is empty; {Forms}");
        }
        if (host.Any(char.IsWhiteSpace) || host.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{host}' is not a host name; {Forms}");
        }
        if (user is { Length: 0 })
        {
            throw new ArgumentException($"the user name before '@' is empty; {Forms}");
        }
        path = NormalizePath(path);
        if (path.Length == 0)
        {
            throw new ArgumentException($"no repository path after the host; {Forms}");
        }
        if (path.StartsWith('~'))
        {
            // As restic: most servers do not expand '~'; a relative path already starts in the home folder.
            throw new ArgumentException("the path starts with '~', which SFTP servers do not expand: write it relative to the home folder (sftp:user@host:backups/repo) or absolute");
        }
        return new SftpLocation(user ?? defaultUser ?? Environment.UserName, host, port, path, password);
    }

    /// <summary>Removes "." segments, doubled and trailing slashes; keeps a leading '/' (absolute) and refuses "..".</summary>
    private static string NormalizePath(string path)
    {
        bool absolute = path.StartsWith('/');
        var parts = new List<string>();
        foreach (string part in path.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }
            if (part == "..")
            {
                throw new ArgumentException($"the path '{path}' contains '..': write the folder without it");
            }
            parts.Add(part);
        }
        string joined = string.Join('/', parts);
        return absolute ? "/" + joined : joined;
    }
}
