using System.Security.Cryptography;
using System.Text;

namespace Strata.Sources.Buckets;

/// <summary>
/// How an S3 key becomes a path in a bucket copy's snapshot: '/' separates folders, and each part of the key between
/// slashes becomes one file or folder name. A key part that is not a valid file name is escaped; the rules are
/// injective (two keys never share a path) and, except for shortened names, reversible:
/// <list type="table">
/// <item><term>"%"</term><description>"%25" (so every other rule below is unambiguous)</description></item>
/// <item><term>"" (from "a//b", a leading "/", or the trailing "/" of a folder object "a/")</term><description>"%"</description></item>
/// <item><term>"." and ".."</term><description>"%2E" and "%2E%2E"</description></item>
/// <item><term>NUL</term><description>"%00"</description></item>
/// <item><term>a part over <see cref="MaxName"/> bytes once escaped</term><description>its first bytes, "%~" and 16 hex digits of its SHA-256</description></item>
/// <item><term>an object whose key is also a folder (keys "a" and "a/b")</term><description>the file gets a trailing "%" ("a%"), the folder keeps "a"</description></item>
/// </list>
/// Every file records its exact key in the xattr user.s3.key, so a shortened name loses nothing.
/// </summary>
public static class BucketKeyPath
{
    /// <summary>The longest escaped name: one byte below Linux's NAME_MAX (255), leaving room for the trailing "%" of a file beside a folder.</summary>
    public const int MaxName = 254;

    private const int HashHex = 16;

    /// <summary>The names of a key's path below <paramref name="prefix"/> (which the key starts with): one per part between slashes.</summary>
    public static List<string> Names(string key, string prefix)
    {
        if (!key.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new ArgumentException($"key '{key}' is not under '{prefix}'", nameof(key));
        }
        return key[prefix.Length..].Split('/').Select(Escape).ToList();
    }

    /// <summary>One key part as a file name (see the class summary).</summary>
    public static string Escape(string part)
    {
        if (part.Length == 0)
        {
            return "%";
        }
        if (part == ".")
        {
            return "%2E";
        }
        if (part == "..")
        {
            return "%2E%2E";
        }
        string escaped = part.Contains('%', StringComparison.Ordinal) || part.Contains('\0', StringComparison.Ordinal)
            ? part.Replace("%", "%25", StringComparison.Ordinal).Replace("\0", "%00", StringComparison.Ordinal)
            : part;
        return Encoding.UTF8.GetByteCount(escaped) <= MaxName ? escaped : Shorten(part, escaped);
    }

    /// <summary>The name of a file whose key is also a folder in the same place.</summary>
    public static string BesideFolder(string name) => name + "%";

    /// <summary>
    /// The key part a name stands for: the reverse of <see cref="Escape"/> (with <see cref="BesideFolder"/>'s mark
    /// removed). Null for a shortened name, whose full part only the user.s3.key xattr holds.
    /// </summary>
    public static string? Unescape(string name)
    {
        if (name == "%")
        {
            return "";
        }
        if (name.Contains("%~", StringComparison.Ordinal))
        {
            return null;
        }
        if (name.EndsWith('%'))
        {
            name = name[..^1];
            if (name == "%")
            {
                return "";
            }
        }
        return Uri.UnescapeDataString(name);
    }

    /// <summary>A name too long for a file system: as many whole characters as fit, then "%~" and a hash of the full part.</summary>
    private static string Shorten(string part, string escaped)
    {
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(part)))[..HashHex];
        int budget = MaxName - 2 - HashHex;
        var sb = new StringBuilder();
        int bytes = 0;
        foreach (Rune r in escaped.EnumerateRunes())
        {
            int n = r.Utf8SequenceLength;
            if (bytes + n > budget)
            {
                break;
            }
            sb.Append(r.ToString());
            bytes += n;
        }
        string head = sb.ToString();
        // Never cut an escape ("%2" of "%25") in half: the name would read as a different escape.
        int pct = head.LastIndexOf('%');
        if (pct >= 0 && pct > head.Length - 3)
        {
            head = head[..pct];
        }
        return head + "%~" + hash;
    }
}
