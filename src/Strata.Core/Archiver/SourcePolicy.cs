namespace Strata.Archiver;

/// <summary>
/// How a source is kept (docs/format.md, snapshot field "policy"; README "Policies and verify"). Set with
/// `backup --policy` and remembered per source: a later backup of the same source without --policy keeps it.
/// </summary>
public enum SourcePolicy
{
    /// <summary>No policy: plain backups.</summary>
    None,

    /// <summary>Write once, read many: files are expected never to change; a modified or deleted file is reported as possible bit rot or tampering.</summary>
    Worm,

    /// <summary>Frequently changing trees (source code): --gitignore and --exclude-caches on by default.</summary>
    Dedup,
}

public static class SourcePolicies
{
    /// <summary>The name stored in snapshots: "worm", "dedup"; null for <see cref="SourcePolicy.None"/>.</summary>
    public static string? Name(SourcePolicy p) => p switch
    {
        SourcePolicy.Worm => "worm",
        SourcePolicy.Dedup => "dedup",
        _ => null,
    };

    /// <summary>Parses a stored or typed name; null or "none" is <see cref="SourcePolicy.None"/>, an unknown name is null.</summary>
    public static SourcePolicy? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        null or "" or "none" => SourcePolicy.None,
        "worm" => SourcePolicy.Worm,
        "dedup" => SourcePolicy.Dedup,
        _ => null,
    };
}
