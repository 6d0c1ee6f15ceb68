using System.Globalization;
using System.Text;
using Strata.Repository;

namespace Strata.Sources;

public enum DatabaseKind
{
    Postgres,
    Mysql,
}

/// <summary>
/// A database location: SCHEME://USER:PASSWORD@HOST:PORT/DATABASE?KEY=VALUE&amp;... (postgresql:// or postgres://;
/// mysql:// or mariadb://). User, password and database are percent-decoded, so a password with '@', ':' or '/'
/// is written %40, %3A, %2F. Every problem is a <see cref="UserInputException"/> naming the part of the URL that is
/// wrong, with the password replaced by *** wherever the URL is shown.
/// </summary>
public sealed record DatabaseUrl
{
    public required DatabaseKind Kind { get; init; }
    public string? User { get; init; }
    public string? Password { get; init; }
    /// <summary>Null: the tool's default (a Unix socket, or localhost).</summary>
    public string? Host { get; init; }
    public int? Port { get; init; }
    public required string Database { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Query { get; init; } = [];

    /// <summary>The URL as it may be shown: without the password.</summary>
    public string Display
    {
        get
        {
            var sb = new StringBuilder(Kind == DatabaseKind.Postgres ? "postgresql://" : "mysql://");
            if (User is not null)
            {
                sb.Append(Uri.EscapeDataString(User)).Append('@');
            }
            sb.Append(Host is not null && Host.Contains(':') ? $"[{Host}]" : Host);
            if (Port is { } p)
            {
                sb.Append(':').Append(p.ToString(CultureInfo.InvariantCulture));
            }
            sb.Append('/').Append(Uri.EscapeDataString(Database));
            if (Query.Count > 0)
            {
                sb.Append('?').AppendJoin('&', Query.Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value)}"));
            }
            return sb.ToString();
        }
    }

    /// <summary>"shop on 127.0.0.1:5433" for messages.</summary>
    public string Describe() => $"database {Database} on {Host ?? "localhost"}{(Port is { } p ? ":" + p.ToString(CultureInfo.InvariantCulture) : "")}";

    public static DatabaseUrl Parse(string url, DatabaseKind kind, string option)
    {
        string example = kind == DatabaseKind.Postgres ? "postgresql://USER:PASSWORD@HOST:5432/DATABASE" : "mysql://USER:PASSWORD@HOST:3306/DATABASE";
        string shown = Redact(url);
        UserInputException Bad(string problem) => new($"{option} {shown}: {problem} (expected {example})");

        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd <= 0)
        {
            throw Bad("the scheme is missing: the URL must start with " + (kind == DatabaseKind.Postgres ? "postgresql://" : "mysql:// or mariadb://"));
        }
        string scheme = url[..schemeEnd].ToLowerInvariant();
        bool schemeOk = kind == DatabaseKind.Postgres ? scheme is "postgresql" or "postgres" : scheme is "mysql" or "mariadb";
        if (!schemeOk)
        {
            string other = scheme is "postgresql" or "postgres" ? " (a PostgreSQL URL: use --postgres / --to-postgres)"
                : scheme is "mysql" or "mariadb" ? " (a MySQL URL: use --mysql / --to-mysql)" : "";
            throw Bad($"the scheme '{scheme}' is not {(kind == DatabaseKind.Postgres ? "postgresql or postgres" : "mysql or mariadb")}{other}");
        }
        string rest = url[(schemeEnd + 3)..];
        int slash = rest.IndexOf('/');
        int question = rest.IndexOf('?');
        int authorityEnd = slash >= 0 ? slash : question >= 0 ? question : rest.Length;
        if (question >= 0 && question < authorityEnd)
        {
            authorityEnd = question;
        }
        string authority = rest[..authorityEnd];
        string afterAuthority = rest[authorityEnd..];

        string? user = null, password = null;
        string hostPort = authority;
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            string userInfo = authority[..at];
            hostPort = authority[(at + 1)..];
            int colon = userInfo.IndexOf(':');
            string rawUser = colon >= 0 ? userInfo[..colon] : userInfo;
            user = Decode(rawUser, "the user name", Bad);
            if (user.Length == 0)
            {
                throw Bad("the user name before '@' is empty");
            }
            if (colon >= 0)
            {
                password = Decode(userInfo[(colon + 1)..], "the password", Bad);
            }
        }

        string? host;
        int? port = null;
        string? portText;
        if (hostPort.StartsWith('['))
        {
            int close = hostPort.IndexOf(']');
            if (close < 0)
            {
                throw Bad("the host starts with '[' but has no closing ']'");
            }
            host = hostPort[1..close];
            string after = hostPort[(close + 1)..];
            if (after.Length > 0 && !after.StartsWith(':'))
            {
                throw Bad($"unexpected '{after}' after the host [{host}]");
            }
            portText = after.Length > 0 ? after[1..] : null;
        }
        else
        {
            int colon = hostPort.LastIndexOf(':');
            host = colon >= 0 ? hostPort[..colon] : hostPort;
            portText = colon >= 0 ? hostPort[(colon + 1)..] : null;
            if (host.Contains(':'))
            {
                throw Bad($"the host '{host}' has a ':'; write an IPv6 address in brackets, like [::1]:5432");
            }
        }
        if (portText is not null)
        {
            if (portText.Length == 0 || !portText.All(char.IsAsciiDigit))
            {
                // not echoed: it may be a password whose '@HOST' was forgotten
                throw Bad("the port (after the host's ':') is not a number");
            }
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || p < 1 || p > 65535)
            {
                throw Bad($"the port {portText} is not from 1 to 65535");
            }
            port = p;
        }
        if (host.Length == 0)
        {
            if (port is not null)
            {
                throw Bad("a port is given but the host is empty");
            }
            host = null;
        }
        else if (host.Any(c => char.IsWhiteSpace(c) || c is '/' or '\\' or '@' or '%' or '?' or '#'))
        {
            throw Bad($"the host '{host}' is not a host name or address");
        }

        string path = afterAuthority;
        string query = "";
        int q = path.IndexOf('?');
        if (q >= 0)
        {
            query = path[(q + 1)..];
            path = path[..q];
        }
        string database = path.Length > 1 ? Decode(path[1..], "the database name", Bad) : "";
        if (database.Length == 0)
        {
            throw Bad("the database name is missing (the part after the host: .../DATABASE)");
        }
        if (database.Contains('/'))
        {
            throw Bad($"the database name '{database}' has a '/'; write it as %2F if the name really contains one");
        }
        if (database.Contains('\0'))
        {
            throw Bad("the database name contains a NUL character");
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (string part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0)
            {
                throw Bad($"the query parameter '{part}' is not KEY=VALUE");
            }
            string key = Decode(part[..eq], "a query parameter name", Bad);
            string value = Decode(part[(eq + 1)..], $"the value of query parameter '{key}'", Bad);
            if (key is "password")
            {
                throw Bad("give the password before the host (USER:PASSWORD@HOST), not as a query parameter");
            }
            pairs.Add(new(key, value));
        }
        return new DatabaseUrl { Kind = kind, User = user, Password = password, Host = host, Port = port, Database = database, Query = pairs };
    }

    /// <summary>The URL with the password (between "user:" and "@") replaced by ***; for messages about a URL that may not parse.</summary>
    public static string Redact(string url)
    {
        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        int start = schemeEnd >= 0 ? schemeEnd + 3 : 0;
        int end = url.IndexOfAny(['/', '?'], start);
        string authority = end >= 0 ? url[start..end] : url[start..];
        int at = authority.LastIndexOf('@');
        int colon = authority.IndexOf(':');
        if (at < 0)
        {
            // "user:secret/db" (the @HOST forgotten): what follows ':' may be a password unless it is a port number
            bool port = colon >= 0 && authority[(colon + 1)..].All(char.IsAsciiDigit);
            return colon < 0 || port || authority.StartsWith('[') ? url : url[..(start + colon + 1)] + "***" + url[(start + authority.Length)..];
        }
        if (colon < 0 || colon > at)
        {
            return url;
        }
        return url[..(start + colon + 1)] + "***" + url[(start + at)..];
    }

    private static string Decode(string s, string part, Func<string, UserInputException> bad)
    {
        try
        {
            // Uri.UnescapeDataString leaves invalid escapes as they are: check them first, strictly.
            for (int i = 0; i < s.Length; i++)
            {
                if (s[i] == '%' && (i + 2 >= s.Length || !Uri.IsHexDigit(s[i + 1]) || !Uri.IsHexDigit(s[i + 2])))
                {
                    throw bad($"{part} has a '%' that is not followed by two hex digits (write a literal % as %25)");
                }
            }
            return Uri.UnescapeDataString(s);
        }
        catch (UriFormatException)
        {
            throw bad($"{part} is not valid percent-encoding");
        }
    }
}
