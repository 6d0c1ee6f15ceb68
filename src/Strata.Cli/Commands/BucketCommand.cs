using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Strata.Cli.Output;
using Strata.Locks;
using Strata.Repository;
using Strata.Sources.Buckets;
using Strata.Stores.S3;

namespace Strata.Cli.Commands;

/// <summary>
/// strata bucket: restoration points of versioned S3 buckets (snapshot, points, restore, gc, enable-versioning).
/// A point records which version each key had; no data is copied. The subcommands live in Bucket*Command.cs.
/// </summary>
internal static class BucketCommand
{
    public static Command Create()
    {
        var cmd = new Command("bucket", "restoration points of versioned S3 buckets (record, list, restore, garbage-collect), or copies of any bucket (snapshot --copy)");
        cmd.Subcommands.Add(BucketSnapshotCommand.Create());
        cmd.Subcommands.Add(BucketPointsCommand.Create());
        cmd.Subcommands.Add(BucketRestoreCommand.Create());
        cmd.Subcommands.Add(BucketGcCommand.Create());
        cmd.Subcommands.Add(BucketForgetCommand.Create());
        cmd.Subcommands.Add(CreateEnableVersioning());
        return cmd;
    }

    /// <summary>Parses an s3: location into the options the repository store would use for it (credentials from the same environment).</summary>
    public static S3StoreOptions ParseLocation(string location)
    {
        if (!location.StartsWith("s3:", StringComparison.Ordinal))
        {
            throw new UserInputException($"'{location}' is not an S3 bucket: write s3:http://host:port/bucket[/folder] or s3:s3.amazonaws.com/bucket[/folder]");
        }
        try
        {
            S3StoreOptions options = S3Store.ParseUrl(location);
            options.Validate();
            return options;
        }
        catch (ArgumentException e)
        {
            throw new UserInputException($"{StoreRegistry.Redact(location)}: {e.Message}");
        }
    }

    public static IVersionedBucket OpenBucket(string location) => new S3VersionedBucket(ParseLocation(location));

    public static int Parallel(IVersionedBucket bucket) => bucket is S3VersionedBucket ? 8 : 1;

    private static Command CreateEnableVersioning()
    {
        var location = new Argument<string>("bucket") { Description = "s3:http://host:port/bucket or s3:s3.amazonaws.com/bucket" };
        var cmd = new Command("enable-versioning", "turn on versioning for a bucket (needed before restoration points can be taken)") { location };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using IVersionedBucket bucket = OpenBucket(p.GetValue(location)!);
            await bucket.EnableVersioningAsync(ct);
            VersioningState state = await bucket.GetVersioningAsync(ct);
            if (state != VersioningState.Enabled)
            {
                throw new Strata.Stores.PermanentStoreException($"{bucket.Location}: the server accepted the request but reports versioning as {state.ToString().ToLowerInvariant()}");
            }
            if (!p.GetValue(GlobalOptions.Quiet))
            {
                Console.WriteLine($"versioning enabled on {bucket.Bucket} ({bucket.Location})");
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    public static string When(DateTimeOffset t) => t.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static Dictionary<string, object?> PointJson(BucketPointRef p) => new()
    {
        ["id"] = p.Id,
        ["short_id"] = p.ShortId,
        ["time"] = p.Header.Time,
        ["location"] = p.Header.Location,
        ["bucket"] = p.Header.Bucket,
        ["prefix"] = p.Header.Prefix,
        ["host"] = p.Header.Host,
        ["tags"] = p.Header.Tags,
        ["keys"] = p.Header.Keys,
        ["bytes"] = p.Header.Bytes,
    };
}

/// <summary>strata bucket snapshot LOCATION: records every key's current version as a restoration point.</summary>
internal static class BucketSnapshotCommand
{
    public static Command Create()
    {
        var location = new Argument<string>("bucket") { Description = "the versioned bucket, optionally with a folder: s3:http://host:port/bucket[/folder]" };
        var host = new Option<string?>("--host") { Description = "record this host name (default: this machine's)" };
        var tags = new Option<string[]>("--tag") { Description = "add a tag to the point (repeatable)" };
        var time = new Option<string?>("--time") { Description = "record this time instead of now (ISO 8601, e.g. 2026-01-31T12:00:00Z), as restic's backup --time" };
        var copy = new Option<bool>("--copy") { Description = "copy the objects into the repository as a snapshot (files at /s3/BUCKET/KEY: deduplicated, encrypted, cold tier) instead of recording versions; no versioning needed" };
        var cmd = new Command("snapshot", "record a restoration point: the current version of every key (no data is copied); with --copy, back the objects up instead")
        {
            location, host, tags, time, copy,
        };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            if (p.GetValue(copy))
            {
                if (p.GetValue(time) is not null)
                {
                    throw new UserInputException("--time cannot be used with --copy: a copy is recorded at the time the objects are read");
                }
                return await BucketCopyCommand.RunAsync(p, p.GetValue(location)!, p.GetValue(host), p.GetValue(tags) ?? [], ct);
            }
            DateTimeOffset when = ParseTime(p.GetValue(time)) ?? DateTimeOffset.UtcNow;
            await using IVersionedBucket bucket = BucketCommand.OpenBucket(p.GetValue(location)!);
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            // Shared: points may be added side by side, but never while gc decides which versions nothing references.
            await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Shared, "bucket snapshot", null, ct);
            BucketPointRef point = await BucketSnapshotter.TakeAsync(repo, bucket, p.GetValue(host) ?? Environment.MachineName, p.GetValue(tags) ?? [], when, ct);
            if (p.GetValue(GlobalOptions.Json))
            {
                var json = BucketCommand.PointJson(point);
                json["message_type"] = "summary";
                Format.JsonLine(json);
            }
            else if (!p.GetValue(GlobalOptions.Quiet))
            {
                Console.WriteLine($"restoration point {point.ShortId} of {point.Header.Location}: {point.Header.Keys} keys, {Format.Bytes(point.Header.Bytes)} (versions kept in the bucket, nothing copied)");
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    public static DateTimeOffset? ParseTime(string? s)
    {
        if (s is null)
        {
            return null;
        }
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t)
            ? t.ToUniversalTime()
            : throw new UserInputException($"--time: '{s}' is not a date and time (use ISO 8601, e.g. 2026-01-31T12:00:00Z)");
    }
}

/// <summary>strata bucket points [LOCATION]: lists restoration points.</summary>
internal static class BucketPointsCommand
{
    public static Command Create()
    {
        var location = new Argument<string?>("bucket") { Description = "only points of this bucket location", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("points", "list bucket restoration points (time, bucket, keys, total size)") { location };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            var damaged = new List<string>();
            var points = await BucketPoints.ListAsync(repo, ct, damaged);
            foreach (string d in damaged)
            {
                Console.Error.WriteLine($"warning: {d}");
            }
            if (p.GetValue(location) is { } only)
            {
                string normalized;
                await using (IVersionedBucket b = BucketCommand.OpenBucket(only))
                {
                    normalized = b.Location;
                }
                points = points.Where(x => x.Header.Location == normalized).ToList();
            }
            if (p.GetValue(GlobalOptions.Json))
            {
                Console.WriteLine(JsonSerializer.Serialize(points.Select(BucketCommand.PointJson).ToList(), CliJson.Default.ListDictionaryStringObject));
                return ExitCodes.Ok;
            }
            Console.WriteLine($"{"ID",-9} {"Time",-19} {"Keys",10} {"Size",12}  Bucket");
            Console.WriteLine(new string('-', 90));
            foreach (var x in points)
            {
                string tags = x.Header.Tags.Count > 0 ? " [" + string.Join(",", x.Header.Tags) + "]" : "";
                Console.WriteLine($"{x.ShortId,-9} {BucketCommand.When(x.Header.Time),-19} {x.Header.Keys,10} {Format.Bytes(x.Header.Bytes),12}  {x.Header.Location}{tags}");
            }
            Console.WriteLine(new string('-', 90));
            Console.WriteLine($"{points.Count} restoration points");
            return damaged.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
        }));
        return cmd;
    }
}

/// <summary>strata bucket restore POINT: puts the bucket back to a point (copies recorded versions back, delete markers for new keys).</summary>
internal static class BucketRestoreCommand
{
    public static Command Create()
    {
        var point = new Argument<string>("point") { Description = "the point's id (a unique prefix) or 'latest'" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "print the plan (copy N, delete M, unchanged K) and change nothing" };
        var cmd = new Command("restore", "put a bucket back to a restoration point; nothing is lost (old versions stay, deleted keys get delete markers)") { point, dryRun };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner("restoring a bucket");
            BucketPointRef target = await BucketPoints.FindAsync(repo, p.GetValue(point)!, ct);
            await using IVersionedBucket bucket = BucketCommand.OpenBucket(target.Header.Location);
            await BucketSnapshotter.RequireVersioningAsync(bucket, ct);
            BucketRestorePlan plan = await BucketRestorer.PlanAsync(repo, target, bucket, ct);
            if (p.GetValue(dryRun))
            {
                if (!json && !quiet)
                {
                    foreach (BucketAction a in plan.Actions)
                    {
                        Console.WriteLine(a.Kind == BucketActionKind.Copy
                            ? $"copy   {a.Key} (version {a.VersionId}, {Format.Bytes(a.Size)}){(a.Current is null ? " (deleted since)" : "")}"
                            : $"delete {a.Key} (did not exist at the point)");
                    }
                }
                Summary(json, quiet, target, plan.Copies, plan.Deletes, plan.Unchanged, 0, dryRun: true);
                return ExitCodes.Ok;
            }
            BucketRestoreResult result = await BucketRestorer.ExecuteAsync(plan, bucket, BucketCommand.Parallel(bucket), null, ct);
            foreach (BucketRestoreFailure f in result.Failures)
            {
                Console.Error.WriteLine($"error: {f.Action.Key}: {f.Message}");
            }
            Summary(json, quiet, target, result.Copied, result.Deleted, result.Unchanged, result.Failures.Count, dryRun: false);
            if (result.Failures.Count > 0)
            {
                Console.Error.WriteLine($"strata: {result.Failures.Count} keys could not be restored; the other keys are back at point {target.ShortId}");
                return ExitCodes.Damaged;
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static void Summary(bool json, bool quiet, BucketPointRef point, long copy, long delete, long unchanged, int failed, bool dryRun)
    {
        if (json)
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "summary",
                ["point"] = point.Id,
                ["location"] = point.Header.Location,
                ["dry_run"] = dryRun,
                ["copy"] = copy,
                ["delete"] = delete,
                ["unchanged"] = unchanged,
                ["failed"] = failed,
            });
        }
        else if (!quiet)
        {
            string verb = dryRun ? "would restore" : "restored";
            Console.WriteLine($"{verb} {point.Header.Location} to point {point.ShortId} ({BucketCommand.When(point.Header.Time)}): copy {copy}, delete {delete}, unchanged {unchanged}" + (failed > 0 ? $", failed {failed}" : ""));
        }
    }
}

/// <summary>
/// strata bucket forget: removes one restoration point, also one whose header does not open (which bucket gc skips and
/// check reports). The object versions only that point kept stay in the bucket.
/// </summary>
internal static class BucketForgetCommand
{
    public static Command Create()
    {
        var point = new Argument<string>("point") { Description = "the point's id or a unique prefix of it (as 'strata bucket points' or 'strata check' shows it)" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "print which point would be removed; delete nothing" };
        var cmd = new Command("forget", "remove one restoration point, damaged or not (the bucket and its versions are not touched)") { point, dryRun };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            bool dry = p.GetValue(dryRun);
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner("removing a bucket restoration point");
            await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Exclusive, "bucket forget", null, ct);
            var (name, found, damage) = await BucketPoints.FindObjectAsync(repo, p.GetValue(point)!, ct);
            if (!dry)
            {
                await repo.Store.DeleteAsync(name, ct);
            }
            string what = found is not null
                ? $"point {found.ShortId} {BucketCommand.When(found.Header.Time)} {found.Header.Location} ({found.Header.Keys} keys)"
                : $"damaged point {name.Name[..Math.Min(8, name.Name.Length)]}";
            if (json)
            {
                Format.JsonLine(new()
                {
                    ["message_type"] = "summary",
                    ["dry_run"] = dry,
                    ["point"] = name.Name,
                    ["damaged"] = found is null,
                    ["damage"] = damage,
                });
            }
            else if (!quiet)
            {
                Console.WriteLine($"{(dry ? "would remove" : "removed")} {what}");
                if (found is not null)
                {
                    Console.WriteLine("the object versions only this point kept stay in the bucket ('strata bucket gc' removes versions together with the points it removes)");
                }
            }
            return 0;
        }));
        return cmd;
    }
}

/// <summary>strata bucket gc: removes points past retention and the noncurrent versions only they referenced.</summary>
internal static class BucketGcCommand
{
    public static Command Create()
    {
        var days = new Option<double>("--retention-days") { Description = "remove points older than D days", Required = true, HelpName = "D" };
        var minKeep = new Option<int>("--min-keep") { Description = "never keep fewer than N points per bucket location (default 1)", DefaultValueFactory = _ => 1, HelpName = "N" };
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "print which points and versions would be removed; delete nothing" };
        var cmd = new Command("gc", "remove old restoration points and the object versions that only they kept") { days, minKeep, dryRun };
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            double d = p.GetValue(days);
            int keep = p.GetValue(minKeep);
            if (d < 0 || double.IsNaN(d))
            {
                throw new UserInputException("--retention-days must be 0 or more");
            }
            if (keep < 0)
            {
                throw new UserInputException("--min-keep must be 0 or more");
            }
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner("garbage-collecting bucket versions");
            await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Exclusive, "bucket gc", null, ct);
            var points = await BucketPoints.ListAsync(repo, ct);
            BucketGcPlan plan = await BucketGc.PlanAsync(repo, points, TimeSpan.FromDays(d), keep, repo.Clock.GetUtcNow(), BucketCommand.OpenBucket, ct);
            if (!json && !quiet)
            {
                foreach (var x in plan.Remove)
                {
                    Console.WriteLine($"remove point {x.ShortId} {BucketCommand.When(x.Header.Time)} {x.Header.Location}");
                }
                foreach (var v in plan.Versions)
                {
                    Console.WriteLine($"remove version {v.VersionId} of {v.Key} ({Format.Bytes(v.Size)})");
                }
            }
            bool dry = p.GetValue(dryRun);
            List<(BucketVersionRef Version, string Error)> failures = dry ? [] : await BucketGc.ExecuteAsync(repo, plan, BucketCommand.OpenBucket, 8, ct);
            foreach (var (v, e) in failures)
            {
                Console.Error.WriteLine($"error: version {v.VersionId} of {v.Key}: {e}");
            }
            if (json)
            {
                Format.JsonLine(new()
                {
                    ["message_type"] = "summary",
                    ["dry_run"] = dry,
                    ["points_kept"] = plan.Keep.Count,
                    ["points_removed"] = plan.Remove.Select(x => x.Id).ToList(),
                    ["versions_removed"] = plan.Versions.Count,
                    ["bytes_removed"] = plan.VersionBytes,
                    ["failed"] = failures.Count,
                });
            }
            else if (!quiet)
            {
                string verb = dry ? "would remove" : "removed";
                Console.WriteLine($"{verb} {plan.Remove.Count} points and {plan.Versions.Count} versions ({Format.Bytes(plan.VersionBytes)}); {plan.Keep.Count} points kept");
            }
            if (failures.Count > 0)
            {
                Console.Error.WriteLine($"strata: {failures.Count} versions could not be deleted; the points that reference them are kept, run gc again");
                return ExitCodes.Failure;
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
