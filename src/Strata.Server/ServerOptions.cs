using System.Net;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Server;

/// <summary>One repository the server hosts: a path prefix ("" for the root) and the store that holds it.</summary>
public sealed record ServedRepository(string Prefix, IStore Store)
{
    public string[] Segments { get; } = Prefix.Length == 0 ? [] : Prefix.Split('/');

    /// <summary>The label in metrics and logs.</summary>
    public string Label => Prefix.Length == 0 ? "/" : Prefix;
}

/// <summary>Everything <c>strata serve</c> was told. <see cref="Validate"/> refuses unsafe combinations.</summary>
public sealed record ServerOptions
{
    public const long DefaultMaxBodyBytes = 1L << 30;

    public required IReadOnlyList<ServedRepository> Repositories { get; init; }

    /// <summary>Addresses to listen on: "127.0.0.1:8000", "[::1]:8000", "localhost:8000", ":8000" (every interface). Port 0 picks a free port.</summary>
    public required IReadOnlyList<string> Listen { get; init; }

    /// <summary>The users; null only with <see cref="NoAuth"/>.</summary>
    public UserDatabase? Users { get; init; }

    /// <summary>No logins at all: everyone is an admin (a reader with <see cref="AppendOnly"/>). Loopback only.</summary>
    public bool NoAuth { get; init; }

    /// <summary>Every role but admin is append-only. With <see cref="NoAuth"/> the anonymous user becomes a reader instead of an admin.</summary>
    public bool AppendOnly { get; init; }

    public string? TlsCertFile { get; init; }
    public string? TlsKeyFile { get; init; }

    /// <summary>Allows plain HTTP on a non-loopback address.</summary>
    public bool Insecure { get; init; }

    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A body slower than this (after <see cref="MinDataRateGrace"/>) is cut off (slowloris).</summary>
    public double MinBodyBytesPerSecond { get; init; } = 1024;

    public TimeSpan MinDataRateGrace { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a shutdown waits for requests in flight; uploads still running then are aborted and leave no object.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Where one JSON line per request goes; null for none.</summary>
    public TextWriter? RequestLog { get; init; }

    /// <summary>More metrics appended to /metrics (the mirror's), rendered at scrape time.</summary>
    public Func<string>? ExtraMetrics { get; init; }

    public bool UsesTls => TlsCertFile is not null;

    public void Validate()
    {
        if (Repositories.Count == 0)
        {
            throw new UserInputException("give at least one --repo to serve");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (ServedRepository r in Repositories)
        {
            if (!IsValidPrefix(r.Prefix))
            {
                throw new UserInputException($"'{r.Prefix}' is not a valid repository prefix: use letters, digits, '-', '_' and '.', with '/' between parts");
            }
            if (!seen.Add(r.Prefix))
            {
                throw new UserInputException($"repository prefix '{r.Label}' is given twice");
            }
        }
        if (Listen.Count == 0)
        {
            throw new UserInputException("give an address to --listen on, e.g. 127.0.0.1:8000");
        }
        if ((TlsCertFile is null) != (TlsKeyFile is null))
        {
            throw new UserInputException("--tls-cert and --tls-key go together");
        }
        foreach (string l in Listen)
        {
            IPEndPoint ep = ParseListen(l);
            bool loopback = IPAddress.IsLoopback(ep.Address);
            if (NoAuth && !loopback)
            {
                throw new UserInputException($"--no-auth is allowed only on a loopback address, not {l}");
            }
            if (!loopback && !UsesTls && !Insecure)
            {
                throw new UserInputException($"refusing to serve plain HTTP on {l}: passwords and data would cross the network unencrypted; give --tls-cert and --tls-key, or --insecure if a VPN or proxy already encrypts");
            }
        }
        if (!NoAuth && Users is null)
        {
            throw new UserInputException("give --users FILE (see 'strata serve users add'), or --no-auth on a loopback address");
        }
        if (MaxBodyBytes <= 0)
        {
            throw new UserInputException("--max-body must be positive");
        }
    }

    /// <summary>A prefix is one or more parts of [A-Za-z0-9._-], not "." or "..", and not a name the protocol uses.</summary>
    public static bool IsValidPrefix(string prefix)
    {
        if (prefix.Length == 0)
        {
            return true;
        }
        foreach (string part in prefix.Split('/'))
        {
            if (part.Length == 0 || part is "." or ".." || !part.All(RequestPath.IsSegmentChar))
            {
                return false;
            }
        }
        string first = prefix.Split('/')[0];
        return first != "metrics" && ObjectKinds.FromFolder(first) is null;
    }

    /// <summary>Parses "host:port", "[v6]:port" or ":port"; "localhost" is the IPv4 loopback.</summary>
    public static IPEndPoint ParseListen(string listen)
    {
        string s = listen;
        int scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            s = s[(scheme + 3)..].TrimEnd('/');
        }
        int colon = s.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(s[(colon + 1)..], out int port) || port is < 0 or > 65535)
        {
            throw new UserInputException($"--listen: '{listen}' is not HOST:PORT (examples: 127.0.0.1:8000, [::]:8000, :8000)");
        }
        string host = s[..colon].Trim('[', ']');
        IPAddress address;
        if (host.Length == 0 || host == "*")
        {
            address = IPAddress.IPv6Any;
        }
        else if (host == "localhost")
        {
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host, out address!))
        {
            throw new UserInputException($"--listen: '{host}' is not an IP address (or localhost)");
        }
        return new IPEndPoint(address, port);
    }
}
