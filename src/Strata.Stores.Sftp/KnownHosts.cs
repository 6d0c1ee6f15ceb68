using System.Security.Cryptography;
using System.Text;

namespace Strata.Stores.Sftp;

/// <summary>
/// The host keys of an OpenSSH known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): lines of
/// <c>[marker] hostpatterns keytype base64-key [comment]</c>, where host patterns are plain ("host", "[host]:port",
/// with * and ? wildcards and !negation) or hashed (<c>|1|base64-salt|base64-HMAC-SHA1(salt, name)</c>).
/// Lines marked @cert-authority are ignored (no certificates here); keys marked @revoked are refused.
/// Only parsing and comparison happen here: the key exchange that proves the server holds the key is SSH.NET's.
/// </summary>
public sealed class KnownHosts
{
    private readonly List<Entry> _entries;

    private KnownHosts(string file, List<Entry> entries)
    {
        File = file;
        _entries = entries;
    }

    public string File { get; }

    /// <param name="Line">1-based line number, for messages.</param>
    /// <param name="Key">The public key blob (SSH wire format), as the server sends it.</param>
    public sealed record Entry(int Line, string[] Patterns, string KeyType, byte[] Key, bool Revoked);

    /// <summary>Reads a known_hosts file; a missing file holds no keys. Lines that cannot be parsed are skipped, as ssh does.</summary>
    public static KnownHosts Load(string file)
    {
        if (!System.IO.File.Exists(file))
        {
            return new KnownHosts(file, []);
        }
        return Parse(file, System.IO.File.ReadAllLines(file));
    }

    public static KnownHosts Parse(string file, IEnumerable<string> lines)
    {
        var entries = new List<Entry>();
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            string[] fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            bool revoked = false;
            int i = 0;
            if (fields[0].StartsWith('@'))
            {
                if (fields[0] == "@cert-authority")
                {
                    continue;
                }
                if (fields[0] != "@revoked")
                {
                    continue;
                }
                revoked = true;
                i = 1;
            }
            if (fields.Length < i + 3)
            {
                continue;
            }
            byte[] key;
            try
            {
                key = Convert.FromBase64String(fields[i + 2]);
            }
            catch (FormatException)
            {
                continue;
            }
            entries.Add(new Entry(number, fields[i].Split(','), fields[i + 1], key, revoked));
        }
        return new KnownHosts(file, entries);
    }

    /// <summary>The entries whose host patterns match <paramref name="name"/> ("host" or "[host]:port").</summary>
    public IReadOnlyList<Entry> For(string name) => _entries.Where(e => Matches(e.Patterns, name)).ToList();

    /// <summary>A line matches when one pattern matches and no negated pattern does (ssh's rule).</summary>
    internal static bool Matches(string[] patterns, string name)
    {
        bool matched = false;
        foreach (string p in patterns)
        {
            if (p.StartsWith("|1|", StringComparison.Ordinal))
            {
                matched |= HashedMatches(p, name);
            }
            else if (p.StartsWith('!'))
            {
                if (Glob(p[1..], name))
                {
                    return false;
                }
            }
            else
            {
                matched |= Glob(p, name);
            }
        }
        return matched;
    }

    /// <summary>|1|salt|hash with hash = HMAC-SHA1(key: salt, message: name), both base64 (OpenSSH's HashKnownHosts).</summary>
    private static bool HashedMatches(string pattern, string name)
    {
        string[] parts = pattern.Split('|');
        if (parts.Length != 4)
        {
            return false;
        }
        try
        {
            byte[] salt = Convert.FromBase64String(parts[2]);
            byte[] expected = Convert.FromBase64String(parts[3]);
            byte[] actual = HMACSHA1.HashData(salt, Encoding.UTF8.GetBytes(name));
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Case-insensitive match with '*' (any run) and '?' (one character), as ssh's match_pattern.</summary>
    internal static bool Glob(string pattern, string name)
    {
        int p = 0, n = 0, star = -1, mark = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(name[n])))
            {
                p++;
                n++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = n;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }

    /// <summary>The SSH key type at the start of a public key blob (uint32 length + name), or "?".</summary>
    public static string KeyTypeOf(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return "?";
        }
        int length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        return length > 0 && length <= blob.Length - 4 ? Encoding.ASCII.GetString(blob, 4, length) : "?";
    }

    /// <summary>"SHA256:..." as ssh-keygen -l prints it (unpadded base64 of the SHA-256 of the blob).</summary>
    public static string Fingerprint(byte[] blob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');
}
