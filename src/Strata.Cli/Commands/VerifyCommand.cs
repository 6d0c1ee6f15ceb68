using System.CommandLine;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Cli.Commands;

/// <summary>`strata verify PATH`: the disk against a snapshot, content hashes included, from warm data only.</summary>
internal static class VerifyCommand
{
    private static readonly Argument<string> PathArg = new("path") { Description = "the file or folder to check (as it was backed up)" };
    private static readonly Option<string?> SnapshotOpt = new("--snapshot") { Description = "compare with this snapshot (default: the latest of this host that holds PATH)" };
    private static readonly Option<string?> Host = new("--host") { Description = "look for the latest snapshot of this host (default: this machine's)" };
    private static readonly Option<bool> MetadataOnly = new("--metadata-only") { Description = "compare sizes, times, modes and owners only; read no file (fast, but blind to content changes that keep the size)" };

    public static Command Create()
    {
        var cmd = new Command("verify", "compare files on disk with a snapshot: changed (content hashes), missing, new, metadata only; reads only warm data");
        cmd.Arguments.Add(PathArg);
        cmd.Options.Add(SnapshotOpt);
        cmd.Options.Add(Host);
        cmd.Options.Add(MetadataOnly);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        string path = Path.GetFullPath(p.GetValue(PathArg)!);
        path = path.Length > 1 ? path.TrimEnd('/') : path;
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        repo.RequireOwner("verify");
        SnapshotRef snap = await ChooseSnapshotAsync(repo, p.GetValue(SnapshotOpt), p.GetValue(Host) ?? Environment.MachineName, path, ct);
        bool worm = snap.Snapshot.Policy == SourcePolicies.Name(SourcePolicy.Worm);
        bool metadataOnly = p.GetValue(MetadataOnly);
        var verifier = new DiskVerifier(repo, snap.Snapshot, metadataOnly, warn: null);
        VerifyResult result;
        try
        {
            result = await verifier.RunAsync(path, ct);
        }
        catch (UserInputException)
        {
            throw new UserInputException($"{path} is not in snapshot {snap.ShortId} (its paths: {string.Join(" ", snap.Snapshot.Paths)})");
        }
        var diffs = result.Differences;
        int Count(VerifyChange c) => diffs.Count(d => d.Change == c);
        if (json)
        {
            foreach (VerifyDifference d in diffs)
            {
                Format.JsonLine(new()
                {
                    ["message_type"] = "difference",
                    ["path"] = d.Path,
                    ["change"] = d.Change.ToString().ToLowerInvariant(),
                    ["detail"] = d.Detail,
                    ["size_before"] = d.SizeBefore,
                    ["size_after"] = d.SizeAfter,
                    ["mtime_before"] = d.MTimeBefore,
                    ["mtime_after"] = d.MTimeAfter,
                });
            }
            Format.JsonLine(new()
            {
                ["message_type"] = "summary",
                ["snapshot_id"] = snap.Id,
                ["policy"] = snap.Snapshot.Policy,
                ["path"] = path,
                ["metadata_only"] = metadataOnly,
                ["files_checked"] = result.FilesChecked,
                ["files_hashed"] = result.FilesHashed,
                ["bytes_read"] = result.BytesRead,
                ["changed"] = Count(VerifyChange.Changed),
                ["missing"] = Count(VerifyChange.Missing),
                ["new"] = Count(VerifyChange.New),
                ["metadata"] = Count(VerifyChange.Metadata),
                ["unreadable"] = Count(VerifyChange.Unreadable),
            });
        }
        else
        {
            foreach (VerifyDifference d in diffs)
            {
                Console.WriteLine($"{d.Change.ToString().ToLowerInvariant(),-10} {d.Path}  ({d.Detail})");
            }
            if (!quiet)
            {
                string what = metadataOnly ? "metadata of" : "content and metadata of";
                Console.WriteLine($"compared the {what} {result.FilesChecked} files ({Format.Bytes(result.BytesRead)} read) with snapshot {snap.ShortId} (v{snap.Snapshot.Version}, {snap.Snapshot.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss}{(snap.Snapshot.Policy is { } pol ? ", policy " + pol : "")}):");
                Console.WriteLine($"{Count(VerifyChange.Changed)} changed, {Count(VerifyChange.Missing)} missing, {Count(VerifyChange.New)} new, {Count(VerifyChange.Metadata)} metadata only, {Count(VerifyChange.Unreadable)} unreadable");
            }
        }
        var violations = diffs.Where(d => d.Change is VerifyChange.Changed or VerifyChange.Missing).ToList();
        if (worm && violations.Count > 0)
        {
            var asWorm = violations.Select(d => new WormChange(d.Path, d.Change == VerifyChange.Missing ? WormChange.Deleted : WormChange.Modified,
                d.SizeBefore, d.SizeAfter, d.MTimeBefore, d.MTimeAfter, d.Change == VerifyChange.Changed && !metadataOnly ? true : null)).ToList();
            WormCommand.PrintBlock(
                $"WORM VIOLATION: {violations.Count} file(s) of this write-once source differ from snapshot {snap.ShortId}",
                "Files under policy worm must never change: this may be bit rot, tampering or a mistake.",
                asWorm,
                [$"The backed-up versions are intact in snapshot {snap.ShortId}: strata restore {snap.ShortId} --target DIR --include PATH"]);
            return ExitCodes.WormChanged;
        }
        return diffs.Count > 0 ? ExitCodes.VerifyDifferences : ExitCodes.Ok;
    }

    /// <summary>The snapshot named, or the latest of the host whose paths hold PATH.</summary>
    private static async Task<SnapshotRef> ChooseSnapshotAsync(Repo repo, string? spec, string host, string path, CancellationToken ct)
    {
        if (spec is not null)
        {
            return await repo.FindSnapshotAsync(spec, ct);
        }
        var all = await repo.ListSnapshotsAsync(ct);
        bool Holds(Snapshot s) => s.Paths.Any(b => b == "/" || path == b || path.StartsWith(b + "/", StringComparison.Ordinal));
        return all.LastOrDefault(s => s.Snapshot.Host == host && Holds(s.Snapshot))
            ?? throw new UserInputException(all.Any(s => Holds(s.Snapshot))
                ? $"no snapshot of host {host} holds {path}; give --host or --snapshot"
                : $"no snapshot in {repo.Location} holds {path}");
    }
}
