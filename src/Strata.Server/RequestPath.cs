namespace Strata.Server;

/// <summary>
/// Checks a request's raw target before anything decodes it. Kestrel would resolve "/data/../config" to "/config",
/// so the raw form is checked: any "." or ".." segment, an encoded '/' or '\', an empty segment, or a character
/// outside [A-Za-z0-9._-] is refused (400), so no path ever names something outside its repository and folder.
/// </summary>
internal static class RequestPath
{
    public static bool IsSegmentChar(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';

    /// <summary>The segments of the path; a trailing '/' yields a last empty segment. Null when the path is refused.</summary>
    public static string[]? Parse(string rawTarget)
    {
        int q = rawTarget.IndexOf('?', StringComparison.Ordinal);
        string raw = q >= 0 ? rawTarget[..q] : rawTarget;
        if (raw.Length == 0 || raw[0] != '/' || raw.Length > 2048)
        {
            return null;
        }
        if (raw.Contains("%2f", StringComparison.OrdinalIgnoreCase) || raw.Contains("%5c", StringComparison.OrdinalIgnoreCase) || raw.Contains('\\', StringComparison.Ordinal))
        {
            return null;
        }
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(raw);
        }
        catch (UriFormatException)
        {
            return null;
        }
        if (decoded == "/")
        {
            return [];
        }
        string[] parts = decoded[1..].Split('/');
        for (int i = 0; i < parts.Length; i++)
        {
            string p = parts[i];
            if (p.Length == 0)
            {
                if (i == parts.Length - 1)
                {
                    continue; // trailing slash: a listing
                }
                return null;
            }
            if (p is "." or ".." || !p.All(IsSegmentChar))
            {
                return null;
            }
        }
        return parts;
    }
}
