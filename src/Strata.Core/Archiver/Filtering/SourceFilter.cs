using System.Collections.Concurrent;
using System.Text;
using Strata.Platform;

namespace Strata.Archiver;

/// <summary>What to do with one entry of a walked folder.</summary>
public enum FilterVerdict
{
    Keep,
    Drop,
    /// <summary>A folder that is left out, but an --include pattern may match something inside: walk it and keep only what is included.</summary>
    IncludeOnly,
}

/// <summary>
/// The filter rules in force for the entries of one folder: the chain of ignore files that apply (innermost
/// first) and whether only --include matches are kept. Immutable, shared by every entry of the folder.
/// </summary>
public sealed class FilterScope
{
    public static readonly FilterScope Empty = new(null, gitOff: false, includeOnly: false);

    internal FilterScope(IgnoreLevel? git, bool gitOff, bool includeOnly)
    {
        Git = git;
        GitOff = gitOff;
        IncludeOnly = includeOnly;
    }

    internal IgnoreLevel? Git { get; }

    /// <summary>Inside a .git folder: ignore rules never apply there (git does not look inside either).</summary>
    internal bool GitOff { get; }

    public bool IncludeOnly { get; }
}

/// <summary>One ignore file and the folder its patterns are relative to. Levels form a chain up to the work tree root.</summary>
internal sealed class IgnoreLevel(string baseDir, GitIgnoreFile file, IgnoreLevel? parent)
{
    public string BaseDir { get; } = baseDir;
    public GitIgnoreFile File { get; } = file;
    public IgnoreLevel? Parent { get; } = parent;

    /// <summary>The path of <paramref name="path"/> (below <see cref="BaseDir"/>) relative to it.</summary>
    public string Relative(string path) => BaseDir == "/" ? path[1..] : path[(BaseDir.Length + 1)..];
}

/// <summary>
/// Decides, folder by folder, what a backup leaves out: restic-style globs (--exclude, --iexclude), --include
/// overrides, marker files (--exclude-if-present, --exclude-caches), a size limit, and git's ignore rules.
/// The walker asks <see cref="EnterDirectory"/> once per folder (with the listing it read anyway, so marker and
/// .gitignore files cost no extra directory read) and <see cref="Check"/> once per entry. Each ignore file is
/// parsed once per run and cached by path; patterns are matched against paths relative to their file's folder.
/// Thread-safe: the progress scanner and the walker use one instance.
/// </summary>
public sealed class SourceFilter
{
    /// <summary>The Cache Directory Tagging Specification's signature: the first 43 bytes of a valid CACHEDIR.TAG.</summary>
    public static ReadOnlySpan<byte> CacheDirSignature => "Signature: 8a477f597d28d172789f06886806bc55"u8;

    private static readonly byte[] CacheDirTag = "CACHEDIR.TAG"u8.ToArray();
    private static readonly byte[] GitIgnoreName = ".gitignore"u8.ToArray();
    private static readonly byte[] DotGit = ".git"u8.ToArray();
    private const long MaxIgnoreFileSize = 16 << 20;

    private readonly ExcludeMatcher? _excludes;
    private readonly ExcludeMatcher? _iexcludes;
    private readonly ExcludeMatcher? _includes;
    private readonly List<(byte[] Name, byte[]? Header)> _markers = [];
    private readonly List<string> _includePrefixes = [];
    private readonly bool _includeAnywhere;
    private readonly Action<string>? _warn;
    private readonly ConcurrentDictionary<string, Lazy<GitIgnoreFile?>> _ignoreFiles = new(StringComparer.Ordinal);

    private readonly GitExcludeSources.GitEnvironment _gitEnvironment;

    public SourceFilter(FilterOptions options, Action<string>? warn = null, GitExcludeSources.GitEnvironment? gitEnvironment = null)
    {
        Options = options;
        _warn = warn;
        _gitEnvironment = gitEnvironment ?? GitExcludeSources.GitEnvironment.FromProcess();
        _excludes = options.Excludes.Count > 0 ? new ExcludeMatcher(options.Excludes) : null;
        _iexcludes = options.ExcludesIgnoreCase.Count > 0 ? new ExcludeMatcher(options.ExcludesIgnoreCase, ignoreCase: true) : null;
        _includes = options.Includes.Count > 0 ? new ExcludeMatcher(options.Includes) : null;
        if (options.ExcludeCaches)
        {
            _markers.Add((CacheDirTag, CacheDirSignature.ToArray()));
        }
        foreach (string m in options.ExcludeIfPresent)
        {
            int colon = m.IndexOf(':', StringComparison.Ordinal);
            string name = colon < 0 ? m : m[..colon];
            if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal))
            {
                throw new Repository.UserInputException($"--exclude-if-present: '{m}' is not a file name (NAME or NAME:HEADER)");
            }
            _markers.Add((Encoding.UTF8.GetBytes(name), colon < 0 ? null : Encoding.UTF8.GetBytes(m[(colon + 1)..])));
        }
        foreach (string inc in options.Includes)
        {
            string p = inc.Trim();
            if (p.Length == 0 || p.StartsWith('#'))
            {
                continue;
            }
            if (!p.StartsWith('/'))
            {
                _includeAnywhere = true;
                continue;
            }
            int glob = p.AsSpan().IndexOfAny("*?[\\");
            _includePrefixes.Add(glob < 0 ? p.TrimEnd('/') + "/" : p[..glob]);
        }
    }

    public static SourceFilter None { get; } = new(new FilterOptions());

    public FilterOptions Options { get; }

    public bool IsEmpty => Options.IsEmpty && _includes is null;

    /// <summary>
    /// The scope in force for a backed-up path itself: with --gitignore and a path inside a git work tree, the
    /// ignore files of the folders from the work tree root down to the path's parent, and the repository's
    /// info/exclude and global excludes.
    /// </summary>
    public FilterScope TargetScope(string target)
    {
        if (!Options.GitIgnore || target == "/")
        {
            return FilterScope.Empty;
        }
        var ancestors = new List<string>();
        string? root = null;
        for (string? d = Path.GetDirectoryName(target); d is not null; d = Path.GetDirectoryName(d))
        {
            ancestors.Add(d);
            if (Posix.TryLStat(Posix.ToBytes(Path.Combine(d, ".git")), out _, out _))
            {
                root = d;
                break;
            }
        }
        if (root is null)
        {
            return FilterScope.Empty; // outside a work tree only the .gitignore files inside the backed-up folders apply
        }
        ancestors.Reverse();
        if (ancestors.Skip(1).Any(a => Path.GetFileName(a) == ".git") || Path.GetFileName(target) == ".git")
        {
            return new FilterScope(null, gitOff: true, includeOnly: false);
        }
        IgnoreLevel? level = RootLevels(root);
        foreach (string dir in ancestors)
        {
            string file = Path.Combine(dir, ".gitignore");
            if (Posix.TryLStat(Posix.ToBytes(file), out FileStat st, out _) && st.Kind == FileKind.Regular && Load(file) is { } parsed)
            {
                level = new IgnoreLevel(dir, parsed, level);
            }
        }
        return new FilterScope(level, gitOff: false, includeOnly: false);
    }

    /// <summary>
    /// The scope for the entries of folder <paramref name="dir"/>, or null when the folder is left out because it
    /// holds a marker file. <paramref name="outer"/> is the scope the folder itself was checked in;
    /// <paramref name="entries"/> its listing (sorted by name bytes). A backed-up path itself is never left out.
    /// </summary>
    public FilterScope? EnterDirectory(FilterScope outer, bool includeOnly, string dir, bool isTarget, IReadOnlyList<DirEntry> entries)
    {
        includeOnly |= outer.IncludeOnly;
        if (!isTarget && !includeOnly && _markers.Count > 0 && HasMarker(dir, entries) && !(_includes?.IsExcluded(dir) ?? false))
        {
            if (!CouldIncludeBelow(dir))
            {
                return null;
            }
            includeOnly = true;
        }
        if (!Options.GitIgnore)
        {
            return includeOnly == outer.IncludeOnly ? outer : new FilterScope(null, false, includeOnly);
        }
        if (outer.GitOff || Path.GetFileName(dir) == ".git")
        {
            return new FilterScope(null, gitOff: true, includeOnly);
        }
        IgnoreLevel? level = outer.Git;
        if (Find(entries, DotGit))
        {
            level = RootLevels(dir); // a work tree root: the rules of enclosing folders stop here, as in git
        }
        if (Find(entries, GitIgnoreName))
        {
            string file = dir == "/" ? "/.gitignore" : dir + "/.gitignore";
            if (Posix.TryLStat(Posix.ToBytes(file), out FileStat st, out _) && st.Kind == FileKind.Regular && Load(file) is { } parsed)
            {
                level = new IgnoreLevel(dir, parsed, level);
            }
        }
        return ReferenceEquals(level, outer.Git) && includeOnly == outer.IncludeOnly ? outer : new FilterScope(level, gitOff: false, includeOnly);
    }

    /// <summary>Whether to back up the entry at <paramref name="path"/> (absolute; <paramref name="name"/> is its last component).</summary>
    public FilterVerdict Check(FilterScope scope, string path, string name, in FileStat st)
    {
        bool isDir = st.Kind == FileKind.Directory;
        if (_includes is not null && _includes.IsExcluded(path))
        {
            return FilterVerdict.Keep;
        }
        if (scope.IncludeOnly)
        {
            return isDir && CouldIncludeBelow(path) ? FilterVerdict.IncludeOnly : FilterVerdict.Drop;
        }
        bool excluded = (_excludes is not null && _excludes.IsExcluded(path))
            || (_iexcludes is not null && _iexcludes.IsExcluded(path))
            || (st.Kind == FileKind.Regular && Options.ExcludeLargerThan is long limit && st.Size > limit)
            || IsGitIgnored(scope, path, name, isDir);
        if (!excluded)
        {
            return FilterVerdict.Keep;
        }
        return isDir && CouldIncludeBelow(path) ? FilterVerdict.IncludeOnly : FilterVerdict.Drop;
    }

    /// <summary>git's answer: the innermost ignore file first, its last matching pattern decides.</summary>
    internal static bool IsGitIgnored(FilterScope scope, string path, string name, bool isDir)
    {
        if (scope.GitOff || scope.Git is null || name == ".git")
        {
            return false;
        }
        for (IgnoreLevel? level = scope.Git; level is not null; level = level.Parent)
        {
            IReadOnlyList<GitIgnoreRule> rules = level.File.Rules;
            string? relative = null;
            for (int i = rules.Count - 1; i >= 0; i--)
            {
                GitIgnoreRule r = rules[i];
                if (r.MatchesPath || r.Anchored)
                {
                    relative ??= level.Relative(path);
                }
                if (r.Matches(relative ?? name, name, isDir))
                {
                    return !r.Negate;
                }
            }
        }
        return false;
    }

    /// <summary>Whether an --include pattern could match something below folder <paramref name="dir"/>.</summary>
    private bool CouldIncludeBelow(string dir)
    {
        if (_includes is null)
        {
            return false;
        }
        if (_includeAnywhere)
        {
            return true;
        }
        string d = dir == "/" ? "/" : dir + "/";
        foreach (string prefix in _includePrefixes)
        {
            int n = Math.Min(d.Length, prefix.Length);
            if (string.CompareOrdinal(d, 0, prefix, 0, n) == 0)
            {
                return true;
            }
        }
        return false;
    }

    private bool HasMarker(string dir, IReadOnlyList<DirEntry> entries)
    {
        foreach (var (name, header) in _markers)
        {
            if (!Find(entries, name))
            {
                continue;
            }
            if (header is null)
            {
                return true;
            }
            byte[] file = Posix.Join(Posix.ToBytes(dir), name);
            try
            {
                using var h = Posix.OpenRead(file);
                byte[] start = new byte[header.Length];
                int at = 0;
                while (at < start.Length)
                {
                    int n = RandomAccess.Read(h, start.AsSpan(at), at);
                    if (n == 0)
                    {
                        break;
                    }
                    at += n;
                }
                if (at == start.Length && start.AsSpan().SequenceEqual(header))
                {
                    return true;
                }
            }
            catch (IOException)
            {
                // an unreadable marker does not count: the folder is backed up
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return false;
    }

    private static bool Find(IReadOnlyList<DirEntry> sorted, byte[] name)
    {
        int lo = 0, hi = sorted.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = sorted[mid].Name.AsSpan().SequenceCompareTo(name);
            if (c == 0)
            {
                return true;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return false;
    }

    /// <summary>A work tree root's own levels: the global excludes file, then .git/info/exclude (which wins over it).</summary>
    private IgnoreLevel? RootLevels(string root)
    {
        string? gitDir = GitExcludeSources.GitDir(root);
        string? common = gitDir is null ? null : GitExcludeSources.CommonDir(gitDir);
        IgnoreLevel? level = null;
        if (GitExcludeSources.GlobalExcludesFile(common, _gitEnvironment) is { } global && File.Exists(global) && Load(global) is { } g)
        {
            level = new IgnoreLevel(root, g, null);
        }
        if (common is not null)
        {
            string info = Path.Combine(common, "info", "exclude");
            if (File.Exists(info) && Load(info) is { } i)
            {
                level = new IgnoreLevel(root, i, level);
            }
        }
        return level;
    }

    /// <summary>Parses an ignore file once per run; warnings (unreadable file, invalid lines) are given once.</summary>
    private GitIgnoreFile? Load(string path) =>
        _ignoreFiles.GetOrAdd(path, p => new Lazy<GitIgnoreFile?>(() => Read(p), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    private GitIgnoreFile? Read(string path)
    {
        try
        {
            using var h = Posix.OpenRead(Posix.ToBytes(path));
            long length = RandomAccess.GetLength(h);
            if (length > MaxIgnoreFileSize)
            {
                _warn?.Invoke($"{path}: ignore file larger than {MaxIgnoreFileSize >> 20} MiB, not applied");
                return null;
            }
            byte[] content = new byte[length];
            int at = 0;
            while (at < content.Length)
            {
                int n = RandomAccess.Read(h, content.AsSpan(at), at);
                if (n == 0)
                {
                    break;
                }
                at += n;
            }
            return GitIgnoreFile.Parse(path, content.AsSpan(0, at), _warn);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _warn?.Invoke($"{path}: cannot read ignore file: {e.Message}");
            return null;
        }
    }
}
