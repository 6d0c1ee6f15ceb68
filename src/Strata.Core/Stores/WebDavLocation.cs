namespace Strata.Stores;

/// <summary>
/// Where a WebDAV repository lives: <c>webdav:http(s)://[user[:password]@]host[:port]/path</c>. The user and password
/// may be percent-encoded in the URL, or come from STRATA_WEBDAV_USER / STRATA_WEBDAV_PASSWORD (the URL wins).
/// <see cref="BaseUri"/> never holds credentials and always ends with '/'.
/// </summary>
public sealed record WebDavLocation(Uri BaseUri, string? User, string? Password)
{
    public const string Scheme = "webdav:";
    public const string UserVariable = "STRATA_WEBDAV_USER";
    public const string PasswordVariable = "STRATA_WEBDAV_PASSWORD";

    private const string Expected = "expected webdav:https://host/path or webdav:https://user:password@host/path";

    /// <summary>For messages and logs: the URL with the user but never the password.</summary>
    public string Display => Scheme + (User is null ? BaseUri.AbsoluteUri : new UriBuilder(BaseUri) { UserName = Uri.EscapeDataString(User) }.Uri.AbsoluteUri);

    public override string ToString() => Display;

    /// <summary>Parses a location; throws <see cref="ArgumentException"/> with a message that says what is wrong (never the password).</summary>
    public static WebDavLocation Parse(string location, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string url = location.StartsWith(Scheme, StringComparison.Ordinal) ? location[Scheme.Length..] : location;
        if (url.Length == 0)
        {
            throw new ArgumentException($"the URL is missing: {Expected}");
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
        {
            string scheme = uri?.Scheme ?? (url.Contains("://", StringComparison.Ordinal) ? url[..url.IndexOf("://", StringComparison.Ordinal)] : "");
            throw new ArgumentException(scheme.Length > 0 && uri is not null
                ? $"a WebDAV server is reached with http:// or https://, not {scheme}://: {Expected}"
                : $"'{Redact(url)}' is not a URL: {Expected}");
        }
        if (uri.Host.Length == 0)
        {
            throw new ArgumentException($"the URL names no server: {Expected}");
        }
        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new ArgumentException($"the URL must not have a query (?...) or fragment (#...): {Expected}");
        }
        string? user = null, password = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (user.Length == 0)
            {
                throw new ArgumentException($"the URL has a password but no user name: {Expected}");
            }
        }
        user ??= NullIfEmpty(environment(UserVariable));
        password ??= NullIfEmpty(environment(PasswordVariable));
        if (user is null && password is not null)
        {
            throw new ArgumentException($"{PasswordVariable} is set but no user is given: put it in the URL (webdav:https://user@host/path) or in {UserVariable}");
        }
        var clean = new UriBuilder(uri) { UserName = "", Password = "" }.Uri;
        string path = clean.GetLeftPart(UriPartial.Path);
        return new WebDavLocation(new Uri(path.EndsWith('/') ? path : path + "/"), user, password);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    /// <summary>Replaces the password of a text that may be a mistyped URL ("user:password@" before the host) with ***.</summary>
    public static string Redact(string url)
    {
        int at = url.LastIndexOf('@');
        if (at < 0)
        {
            return url;
        }
        int colon = url.LastIndexOf(':', at);
        // "https://user@host" has no password: its last colon before '@' is the scheme's.
        return colon < 0 || url.AsSpan(colon).StartsWith("://") ? url : url[..(colon + 1)] + "***" + url[at..];
    }
}
