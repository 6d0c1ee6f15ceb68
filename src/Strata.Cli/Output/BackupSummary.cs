using Strata.Snapshots;

namespace Strata.Cli.Output;

/// <summary>
/// What every kind of backup (of paths, of a stream, of a bucket) says when it has saved its snapshot: one set of
/// JSON summary fields and one wording for the version and the bytes added, so the three commands stay alike.
/// </summary>
internal static class BackupSummary
{
    /// <summary>
    /// The JSON summary: message_type, snapshot_id, <paramref name="leading"/> (what names the source), version,
    /// unchanged_since, the snapshot's statistics, <paramref name="trailing"/>, total_duration.
    /// </summary>
    public static Dictionary<string, object?> Json(string snapshotId, Snapshot s, TimeSpan elapsed,
        IEnumerable<KeyValuePair<string, object?>>? leading = null, IEnumerable<KeyValuePair<string, object?>>? trailing = null)
    {
        var d = new Dictionary<string, object?> { ["message_type"] = "summary", ["snapshot_id"] = snapshotId };
        foreach (var (k, v) in leading ?? [])
        {
            d[k] = v;
        }
        d["version"] = s.Version;
        d["unchanged_since"] = s.UnchangedSince;
        d["files_new"] = s.Stats.FilesNew;
        d["files_changed"] = s.Stats.FilesChanged;
        d["files_unmodified"] = s.Stats.FilesUnchanged;
        d["dirs"] = s.Stats.Directories;
        d["bytes_total"] = s.Stats.BytesTotal;
        d["bytes_read"] = s.Stats.BytesRead;
        d["data_added"] = s.Stats.BytesAdded;
        d["data_stored"] = s.Stats.BytesStored;
        d["blobs_added"] = s.Stats.BlobsAdded;
        d["packs_added"] = s.Stats.PacksAdded;
        d["skipped"] = s.Skipped.Count;
        d["partial"] = s.Partial;
        foreach (var (k, v) in trailing ?? [])
        {
            d[k] = v;
        }
        d["total_duration"] = elapsed.TotalSeconds;
        return d;
    }

    /// <summary>"Added to the repository: 1.00 MiB (400 KiB stored) in 3 blobs", with ", in 2s" when <paramref name="elapsed"/> is given.</summary>
    public static string Added(Snapshot s, TimeSpan? elapsed = null) =>
        $"Added to the repository: {Format.Bytes(s.Stats.BytesAdded)} ({Format.Bytes(s.Stats.BytesStored)} stored) in {s.Stats.BlobsAdded} blobs"
        + (elapsed is { } e ? $", in {Format.Duration(e)}" : "");

    /// <summary>"v3, 1d 2h after v2", "v1", or "nothing changed since v2, so no new version".</summary>
    public static string Version(Snapshot s) => s.UnchangedSince is { } v
        ? $"nothing changed since v{v}, so no new version"
        : $"v{s.Version}" + (s.SecondsSincePrevious is { } sec ? $", {Format.Duration(TimeSpan.FromSeconds(sec))} after v{s.Version - 1}" : "");
}
