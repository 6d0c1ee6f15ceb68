using System.CommandLine;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Stores.S3;
using Strata.Sync;

namespace Strata.Cli.Commands;

/// <summary>
/// strata sync PATH TARGET: the `sync` policy. Mirrors a folder into a local folder or an S3 bucket as plain,
/// readable files (no repository, no encryption, no chunking); deletions go to a dated trash folder in the target.
/// </summary>
internal static class SyncCommand
{
    public static Command Create()
    {
        var source = new Argument<string>("path") { Description = "the folder to mirror (the authoritative side)" };
        var target = new Argument<string>("target") { Description = "a folder, or s3:http://host:port/bucket[/folder] (credentials as for S3 repositories)" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "print what would be uploaded and moved to the trash; change nothing" };
        var cmd = new Command("sync", "mirror a folder into a folder or bucket as plain files; files deleted locally are moved to .strata-trash/<time>/, never removed")
        {
            source, target, dryRun,
        };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, p.GetValue(source)!, p.GetValue(target)!, p.GetValue(dryRun), ct)));
        return cmd;
    }

    /// <summary>One sync run; also what `strata backup --policy sync --to TARGET PATH` runs.</summary>
    internal static async Task<int> RunAsync(ParseResult p, string sourcePath, string dest, bool dry, CancellationToken ct)
    {
        {
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            string src = Path.GetFullPath(sourcePath);
            await using ISyncTarget t = Open(dest);
            var options = new SyncOptions { DryRun = dry, SkipFolder = t is LocalSyncTarget ? Path.GetFullPath(dest) : null, Parallel = t is S3SyncTarget ? 8 : 2 };
            SyncResult r = await Syncer.RunAsync(src, t, options, null, ct);
            foreach (SyncSkipped s in r.Skipped)
            {
                Console.Error.WriteLine($"{(s.IsError ? "error" : "note")}: {s.Path}: {s.Reason}");
            }
            if (json)
            {
                Format.JsonLine(new()
                {
                    ["message_type"] = "summary",
                    ["source"] = src,
                    ["target"] = t.Location,
                    ["dry_run"] = dry,
                    ["uploaded"] = (long)r.Uploaded.Count,
                    ["uploaded_bytes"] = r.UploadedBytes,
                    ["unchanged"] = r.Unchanged,
                    ["trashed"] = (long)r.Trashed.Count,
                    ["trash_folder"] = r.Trashed.Count > 0 ? r.TrashFolder : null,
                    ["skipped"] = (long)r.Skipped.Count,
                    ["manifest_was_missing"] = r.ManifestWasMissing,
                });
            }
            else if (!quiet)
            {
                string verb = dry ? "would upload" : "uploaded";
                foreach (string u in r.Uploaded)
                {
                    Console.WriteLine($"{(dry ? "upload" : "uploaded")} {u}");
                }
                foreach (string g in r.Trashed)
                {
                    Console.WriteLine($"{(dry ? "trash" : "trashed")} {g} -> {r.TrashFolder}/{g}");
                }
                Console.WriteLine($"{verb} {r.Uploaded.Count} files ({Format.Bytes(r.UploadedBytes)}), {r.Unchanged} unchanged, {r.Trashed.Count} moved to {(r.Trashed.Count > 0 ? r.TrashFolder : ".strata-trash")}"
                    + (r.Skipped.Count > 0 ? $", {r.Skipped.Count} not synced" : "") + $" -> {t.Location}");
            }
            // Exit 3 only for files that could not be read, as backup does; links and FIFOs are never synced.
            return r.Skipped.Any(s => s.IsError) ? ExitCodes.Partial : ExitCodes.Ok;
        }
    }

    private static ISyncTarget Open(string target)
    {
        if (target.StartsWith("s3:", StringComparison.Ordinal))
        {
            return new S3SyncTarget(BucketCommand.ParseLocation(target));
        }
        if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("rest:", StringComparison.Ordinal))
        {
            throw new UserInputException($"sync target '{StoreRegistry.Redact(target)}': use a folder or s3:...");
        }
        return new LocalSyncTarget(target);
    }
}
