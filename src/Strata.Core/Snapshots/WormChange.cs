using System.Text.Json.Serialization;

namespace Strata.Snapshots;

/// <summary>
/// A change to a file of a worm source since the previous backup, found by the backup (and listed in its snapshot,
/// field "worm_changes") or by `verify`. <see cref="Change"/> is one of <see cref="Modified"/>, <see cref="Deleted"/>,
/// <see cref="Replaced"/> (violations: possible bit rot or tampering) or <see cref="Metadata"/> (times, mode or
/// owner changed, content identical: noted, not a violation). Before/after fields are null where they do not apply.
/// </summary>
public sealed record WormChange(
    string Path,
    string Change,
    long? SizeBefore = null,
    long? SizeAfter = null,
    [property: JsonPropertyName("mtime_before")] DateTimeOffset? MTimeBefore = null,
    [property: JsonPropertyName("mtime_after")] DateTimeOffset? MTimeAfter = null,
    bool? ContentChanged = null)
{
    public const string Modified = "modified";
    public const string Deleted = "deleted";
    public const string Replaced = "replaced";
    public const string Metadata = "metadata";

    [JsonIgnore]
    public bool IsViolation => Change != Metadata;

    public static DateTimeOffset FromNs(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);

    /// <summary>"size 1.0 KiB -> 1.1 KiB, mtime ... -> ..., content changed" for messages.</summary>
    public string Describe(Func<long, string> bytes)
    {
        var parts = new List<string>();
        if (Change == Deleted)
        {
            parts.Add("no longer on disk");
            if (SizeBefore is long sb)
            {
                parts.Add($"was {bytes(sb)}");
            }
            if (MTimeBefore is { } mb)
            {
                parts.Add($"mtime {mb:yyyy-MM-dd HH:mm:ss}");
            }
            return string.Join(", ", parts);
        }
        if (Change == Replaced)
        {
            return "replaced by another kind of entry";
        }
        if (SizeBefore != SizeAfter && SizeBefore is long a && SizeAfter is long b)
        {
            parts.Add($"size {bytes(a)} -> {bytes(b)}");
        }
        if (MTimeBefore != MTimeAfter && MTimeBefore is { } t0 && MTimeAfter is { } t1)
        {
            parts.Add($"mtime {t0:yyyy-MM-dd HH:mm:ss.fff} -> {t1:yyyy-MM-dd HH:mm:ss.fff}");
        }
        if (ContentChanged == true)
        {
            parts.Add(SizeBefore == SizeAfter && MTimeBefore == MTimeAfter ? "content hash changed with size and mtime unchanged (bit rot?)" : "content hash changed");
        }
        else if (ContentChanged == false)
        {
            parts.Add("content identical");
        }
        if (parts.Count == 0)
        {
            parts.Add("mode or owner changed");
        }
        return string.Join(", ", parts);
    }
}
