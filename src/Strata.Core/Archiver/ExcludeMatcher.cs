using System.Text;
using System.Text.RegularExpressions;

namespace Strata.Archiver;

/// <summary>
/// restic-style exclude globs on absolute paths: '*' and '?' stay inside one path component, '**' crosses
/// components, [..] is a character class. A pattern starting with '/' is anchored at the root; any other
/// pattern matches at any depth (a pattern without '/' matches a file or folder name). A matching folder
/// is skipped with everything under it. Invalid patterns are rejected with a message naming them.
/// </summary>
public sealed class ExcludeMatcher
{
    private readonly List<Regex> _patterns = [];

    public ExcludeMatcher(IEnumerable<string> patterns, bool ignoreCase = false)
    {
        foreach (string raw in patterns)
        {
            string p = raw.Trim();
            if (p.Length == 0 || p.StartsWith('#'))
            {
                continue;
            }
            try
            {
                _patterns.Add(new Regex(ToRegex(p), RegexOptions.CultureInvariant | RegexOptions.Compiled | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None)));
            }
            catch (ArgumentException e)
            {
                throw new Repository.UserInputException($"invalid exclude pattern '{raw}': {e.Message}");
            }
        }
    }

    public bool IsEmpty => _patterns.Count == 0;

    /// <summary>A pattern that matches exactly this absolute path (glob characters escaped).</summary>
    public static string EscapeLiteral(string absolutePath)
    {
        var sb = new StringBuilder();
        foreach (char c in absolutePath)
        {
            if (c is '*' or '?' or '[' or ']' or '\\')
            {
                sb.Append('\\');
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    public static ExcludeMatcher FromFiles(IEnumerable<string> patterns, IEnumerable<string> files) => new(WithFiles(patterns, files));

    /// <summary>The patterns followed by the non-blank, non-comment lines of each file (an unreadable file is a usage error naming it).</summary>
    public static List<string> WithFiles(IEnumerable<string> patterns, IEnumerable<string> files)
    {
        var all = new List<string>(patterns);
        foreach (string f in files)
        {
            try
            {
                all.AddRange(File.ReadAllLines(f).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new Repository.UserInputException($"cannot read exclude file {f}: {e.Message}");
            }
        }
        return all;
    }

    public bool IsExcluded(string absolutePath)
    {
        foreach (Regex r in _patterns)
        {
            if (r.IsMatch(absolutePath))
            {
                return true;
            }
        }
        return false;
    }

    internal static string ToRegex(string pattern)
    {
        var sb = new StringBuilder();
        bool anchored = pattern.StartsWith('/');
        string p = pattern.TrimEnd('/');
        if (p.Length == 0)
        {
            p = "/";
        }
        sb.Append(anchored ? "^/" : "(^|/)");
        int i = anchored ? 1 : 0;
        for (; i < p.Length; i++)
        {
            char c = p[i];
            switch (c)
            {
                case '*':
                    if (i + 1 < p.Length && p[i + 1] == '*')
                    {
                        i++;
                        if (i + 1 < p.Length && p[i + 1] == '/')
                        {
                            i++;
                            sb.Append("(.*/)?"); // "**/" is zero or more whole components
                        }
                        else
                        {
                            sb.Append(".*");
                        }
                    }
                    else
                    {
                        sb.Append("[^/]*");
                    }
                    break;
                case '?':
                    sb.Append("[^/]");
                    break;
                case '[':
                    int end = p.IndexOf(']', i + 1);
                    if (end < 0)
                    {
                        throw new ArgumentException("unterminated character class '['");
                    }
                    string cls = p[(i + 1)..end];
                    if (cls.StartsWith('!'))
                    {
                        cls = "^" + cls[1..];
                    }
                    sb.Append('[').Append(cls.Replace("\\", "\\\\", StringComparison.Ordinal)).Append(']');
                    i = end;
                    break;
                case '\\':
                    if (i + 1 < p.Length)
                    {
                        sb.Append(Regex.Escape(p[++i].ToString()));
                    }
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        sb.Append("(/|$)");
        return sb.ToString();
    }
}
