using System.Text;
using System.Text.RegularExpressions;
using MAB.DotIgnore;

namespace Strata.Archiver;

/// <summary>
/// One rule of an ignore file, parsed as git does (gitignore(5)). The glob itself is translated to a regular
/// expression by MAB.DotIgnore's <see cref="Matcher.ToRegex"/>; which string it is matched against (the name, or
/// the path relative to the ignore file's folder) is decided here, because that is where git's rules are subtle:
/// a pattern without a slash matches a name at any depth, a pattern with a slash (or a leading one) matches the
/// relative path, a trailing slash matches folders only.
/// </summary>
public sealed class GitIgnoreRule
{
    private readonly Regex? _regex;
    private readonly string? _literal;

    private GitIgnoreRule(string source, int line, string text, bool negate, bool directoryOnly, bool anchored, bool matchesPath, Regex? regex, string? literal)
    {
        Source = source;
        Line = line;
        Text = text;
        Negate = negate;
        DirectoryOnly = directoryOnly;
        Anchored = anchored;
        MatchesPath = matchesPath;
        _regex = regex;
        _literal = literal;
    }

    /// <summary>The file the rule came from, for messages.</summary>
    public string Source { get; }

    public int Line { get; }

    /// <summary>The pattern as written (trailing spaces removed).</summary>
    public string Text { get; }

    /// <summary>"!pattern": a match re-includes.</summary>
    public bool Negate { get; }

    /// <summary>"pattern/": matches folders only.</summary>
    public bool DirectoryOnly { get; }

    /// <summary>"/pattern": matches only relative to the ignore file's folder.</summary>
    public bool Anchored { get; }

    /// <summary>The pattern has a slash inside: it is matched against the relative path, not the name.</summary>
    public bool MatchesPath { get; }

    /// <summary>
    /// Whether the rule matches an entry. <paramref name="relative"/> is its path relative to the ignore file's
    /// folder ('/'-separated, no leading slash); <paramref name="name"/> its last component.
    /// </summary>
    public bool Matches(string relative, string name, bool isDirectory)
    {
        if (DirectoryOnly && !isDirectory)
        {
            return false;
        }
        string subject;
        if (MatchesPath)
        {
            subject = relative;
        }
        else if (Anchored)
        {
            // "/name" only matches directly inside the ignore file's folder.
            if (relative.Contains('/', StringComparison.Ordinal))
            {
                return false;
            }
            subject = name;
        }
        else
        {
            subject = name;
        }
        if (_literal is not null)
        {
            return string.Equals(subject, _literal, StringComparison.Ordinal);
        }
        return Matcher.TryMatch(_regex, subject);
    }

    /// <summary>
    /// Parses one line. Returns null for blank lines and comments; throws <see cref="FormatException"/> with the
    /// reason for a pattern that git would never match (so the user hears about it instead of silently getting
    /// a backup that differs from git's view).
    /// </summary>
    public static GitIgnoreRule? Parse(string line, string source, int lineNumber)
    {
        if (line.EndsWith('\r'))
        {
            line = line[..^1];
        }
        if (line.Length == 0 || line[0] == '#')
        {
            return null;
        }
        line = TrimTrailingSpaces(line);
        if (line.Length == 0)
        {
            return null;
        }
        string p = line;
        bool negate = false;
        if (p[0] == '!')
        {
            negate = true;
            p = p[1..];
        }
        else if (p.StartsWith("\\!", StringComparison.Ordinal) || p.StartsWith("\\#", StringComparison.Ordinal))
        {
            p = p[1..]; // an escaped leading '!' or '#' is literal
        }
        bool directoryOnly = false;
        if (p.EndsWith('/') && !p.EndsWith("\\/", StringComparison.Ordinal))
        {
            directoryOnly = true;
            p = p.TrimEnd('/');
        }
        bool anchored = false;
        if (p.StartsWith('/'))
        {
            anchored = true;
            p = p[1..];
        }
        if (p.Length == 0)
        {
            throw new FormatException("the pattern is empty");
        }
        bool matchesPath = p.Contains('/', StringComparison.Ordinal);
        string glob = Normalize(p);
        if (!HasGlobCharacters(glob))
        {
            return new GitIgnoreRule(source, lineNumber, line, negate, directoryOnly, anchored, matchesPath, null, glob);
        }
        string? regex = Matcher.ToRegex(Protect(glob));
        if (regex is null)
        {
            throw new FormatException("the pattern is not a valid glob");
        }
        regex = Unprotect(regex);
        try
        {
            return new GitIgnoreRule(source, lineNumber, line, negate, directoryOnly, anchored, matchesPath, new Regex(regex, RegexOptions.CultureInvariant), null);
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"the pattern is not a valid glob ({e.Message})");
        }
    }

    private static bool HasGlobCharacters(string glob) => glob.AsSpan().IndexOfAny("*?[\\") >= 0;

    /// <summary>
    /// Trailing spaces are ignored unless escaped with a backslash (the backslash stays: the glob needs it).
    /// </summary>
    private static string TrimTrailingSpaces(string line)
    {
        int end = line.Length;
        while (end > 0 && line[end - 1] == ' ')
        {
            int backslashes = 0;
            for (int i = end - 2; i >= 0 && line[i] == '\\'; i--)
            {
                backslashes++;
            }
            if (backslashes % 2 == 1)
            {
                break; // "\ " keeps this space and everything before it
            }
            end--;
        }
        return line[..end];
    }

    /// <summary>
    /// Checks the glob the way git's wildmatch reads it and rewrites what the regex translation would get wrong:
    /// a "**" that is not a whole path component is an ordinary "*" in git; an escaped ordinary character is that
    /// character (only glob characters keep their backslash). Throws for an unterminated "[" or a trailing backslash, which git never matches.
    /// </summary>
    private static string Normalize(string p)
    {
        var sb = new StringBuilder(p.Length);
        for (int i = 0; i < p.Length; i++)
        {
            char c = p[i];
            if (c == '\\')
            {
                if (i + 1 >= p.Length)
                {
                    throw new FormatException("the pattern ends with a lone backslash");
                }
                char next = p[++i];
                if (next is '*' or '?' or '[' or ']' or '\\')
                {
                    sb.Append('\\').Append(next);
                }
                else
                {
                    sb.Append(next); // an escaped ordinary character is that character
                }
            }
            else if (c == '[')
            {
                int end = ClassEnd(p, i);
                if (end < 0)
                {
                    throw new FormatException("a '[' character class is not closed");
                }
                sb.Append(p, i, end - i + 1);
                i = end;
            }
            else if (c == '*')
            {
                int run = i;
                while (run < p.Length && p[run] == '*')
                {
                    run++;
                }
                int count = run - i;
                bool boundedBefore = i == 0 || p[i - 1] == '/';
                bool boundedAfter = run == p.Length || p[run] == '/';
                sb.Append(count >= 2 && boundedBefore && boundedAfter ? "**" : "*");
                i = run - 1;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>The index of the ']' that closes the class starting at <paramref name="open"/>, or -1 (git's wildmatch rules).</summary>
    private static int ClassEnd(string p, int open)
    {
        int i = open + 1;
        if (i < p.Length && (p[i] == '!' || p[i] == '^'))
        {
            i++;
        }
        if (i < p.Length && p[i] == ']')
        {
            i++; // a ']' right after the opening is a member
        }
        for (; i < p.Length; i++)
        {
            if (p[i] == '\\')
            {
                i++;
            }
            else if (p[i] == '[' && i + 1 < p.Length && p[i + 1] == ':')
            {
                int close = p.IndexOf(":]", i + 2, StringComparison.Ordinal);
                if (close > 0)
                {
                    i = close + 1;
                }
            }
            else if (p[i] == ']')
            {
                return i;
            }
        }
        return -1;
    }

    // The regex translation turns every '!' into '^' (for "[!a]") and leaves '^' unescaped. Literal ones outside
    // classes are swapped for private-use characters before the translation and put back, escaped, after it.
    private const char BangMark = '\uE021';
    private const char CaretMark = '\uE05E';

    private static string Protect(string glob)
    {
        var sb = new StringBuilder(glob.Length);
        for (int i = 0; i < glob.Length; i++)
        {
            char c = glob[i];
            if (c == '\\' && i + 1 < glob.Length)
            {
                sb.Append(c).Append(glob[++i]);
            }
            else if (c == '[')
            {
                int end = ClassEnd(glob, i);
                sb.Append(glob, i, end - i + 1);
                i = end;
            }
            else if (c == '!')
            {
                sb.Append(BangMark);
            }
            else if (c == '^')
            {
                sb.Append(CaretMark);
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    private static string Unprotect(string regex) =>
        regex.Replace(BangMark.ToString(), "!", StringComparison.Ordinal).Replace(CaretMark.ToString(), "\\^", StringComparison.Ordinal);

    public override string ToString() => $"{Source}:{Line}: {Text}";
}

/// <summary>The rules of one ignore file (.gitignore, .git/info/exclude or the global excludes file), in file order.</summary>
public sealed class GitIgnoreFile
{
    public GitIgnoreFile(string source, IReadOnlyList<GitIgnoreRule> rules)
    {
        Source = source;
        Rules = rules;
    }

    public string Source { get; }

    public IReadOnlyList<GitIgnoreRule> Rules { get; }

    /// <summary>Parses file content; each invalid line is reported through <paramref name="warn"/> (naming file and line) and skipped.</summary>
    public static GitIgnoreFile Parse(string source, ReadOnlySpan<byte> content, Action<string>? warn)
    {
        if (content.StartsWith("\xEF\xBB\xBF"u8))
        {
            content = content[3..]; // git skips a UTF-8 byte order mark
        }
        string text = Encoding.UTF8.GetString(content);
        var rules = new List<GitIgnoreRule>();
        int lineNumber = 0;
        foreach (string line in text.Split('\n'))
        {
            lineNumber++;
            try
            {
                if (GitIgnoreRule.Parse(line, source, lineNumber) is { } rule)
                {
                    rules.Add(rule);
                }
            }
            catch (FormatException e)
            {
                warn?.Invoke($"{source}:{lineNumber}: ignoring the pattern '{line.TrimEnd('\r')}': {e.Message}");
            }
        }
        return new GitIgnoreFile(source, rules);
    }
}
