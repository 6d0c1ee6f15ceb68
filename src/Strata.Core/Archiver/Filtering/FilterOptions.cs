using System.Text.Json.Serialization;

namespace Strata.Archiver;

/// <summary>
/// What a backup leaves out. Recorded in the snapshot (field "filters") so that `verify` applies the same
/// filters when it looks for new files. Patterns from --exclude-file are stored expanded.
/// </summary>
public sealed record FilterOptions
{
    /// <summary>restic-style globs on absolute paths (--exclude, --exclude-file).</summary>
    public IReadOnlyList<string> Excludes { get; init; } = [];

    /// <summary>The same, matched case-insensitively (--iexclude, --iexclude-file).</summary>
    public IReadOnlyList<string> ExcludesIgnoreCase { get; init; } = [];

    /// <summary>Globs whose matches are kept even when another filter would leave them out (--include).</summary>
    public IReadOnlyList<string> Includes { get; init; } = [];

    /// <summary>"NAME" or "NAME:HEADER": a folder holding such a file (starting with HEADER) is left out (--exclude-if-present).</summary>
    public IReadOnlyList<string> ExcludeIfPresent { get; init; } = [];

    /// <summary>Leave out folders holding a CACHEDIR.TAG with the standard signature (--exclude-caches).</summary>
    public bool ExcludeCaches { get; init; }

    /// <summary>Leave out files larger than this many bytes (--exclude-larger-than).</summary>
    public long? ExcludeLargerThan { get; init; }

    /// <summary>Honour .gitignore files, .git/info/exclude and git's global excludes file (--gitignore).</summary>
    public bool GitIgnore { get; init; }

    [JsonIgnore]
    public bool IsEmpty => Excludes.Count == 0 && ExcludesIgnoreCase.Count == 0 && ExcludeIfPresent.Count == 0
        && !ExcludeCaches && ExcludeLargerThan is null && !GitIgnore;
}
