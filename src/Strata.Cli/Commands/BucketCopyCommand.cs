using System.CommandLine;
using System.Diagnostics;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Locks;
using Strata.Repository;
using Strata.Sources.Buckets;
using Strata.Stores.S3;

namespace Strata.Cli.Commands;

/// <summary>
/// strata bucket snapshot --copy LOCATION: backs the bucket's current objects up into the repository as an ordinary
/// snapshot (files at /s3/BUCKET/KEY; chunked, deduplicated, encrypted, packed for the cold tier), versioned like any
/// other source. The bucket needs no versioning. Restored with strata restore like any snapshot.
/// </summary>
internal static class BucketCopyCommand
{
    public static async Task<int> RunAsync(ParseResult p, string location, string? hostOption, string[] tags, CancellationToken ct)
    {
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        await using var bucket = new S3BucketReader(BucketCommand.ParseLocation(location));
        // A missing bucket or refused credentials fail here, before the passphrase is asked for and checked.
        await bucket.CheckAsync(ct);
        var source = new BucketCopySource(bucket);

        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        string host = hostOption ?? Environment.MachineName;
        // As backup: the lock comes before the index, since a purge holding the exclusive lock may be deleting packs.
        await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Host, "bucket snapshot --copy", host, ct);
        using var lockedCts = CancellationTokenSource.CreateLinkedTokenSource(ct, held.Lost);
        ct = lockedCts.Token;
        try
        {
            await repo.LoadIndexAsync(ct);
            var progress = new BackupProgress();
            progress.Error += (path, message) =>
            {
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "error", ["item"] = path, ["error"] = message });
                }
                else
                {
                    Console.Error.WriteLine($"error: {path}: {message}");
                }
            };
            var options = new BackupOptions { Paths = [], Tree = source, Tags = tags, Host = host };
            var archiver = new Archiver.Archiver(repo, options, progress, new ParentTrees(repo, GlobalOptions.CacheRoot(p)));
            var sw = Stopwatch.StartNew();
            Task<BackupResult> run = archiver.RunAsync(ct);
            BackupResult result;
            if (json)
            {
                while (await Task.WhenAny(run, Task.Delay(1000, ct)) != run)
                {
                    Format.JsonLine(BackupCommand.Status(progress, sw.Elapsed));
                }
                result = await run;
            }
            else if (!quiet && !Console.IsErrorRedirected)
            {
                result = await BackupCommand.ShowBarAsync(run, progress, sw);
            }
            else
            {
                result = await run;
            }

            var settled = await StageSettler.SettleAsync(repo, ct);
            foreach (string f in settled.Failed)
            {
                Console.Error.WriteLine($"warning: {f}");
            }
            Summary(result, bucket.Location, source.Objects, sw.Elapsed, json, quiet);
            return result.Snapshot.Partial ? ExitCodes.Partial : ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (held.Lost.IsCancellationRequested)
        {
            throw new LockLostException(repo.Location);
        }
    }

    private static void Summary(BackupResult result, string location, long objects, TimeSpan elapsed, bool json, bool quiet)
    {
        var s = result.Snapshot;
        if (json)
        {
            Format.JsonLine(BackupSummary.Json(result.SnapshotId, s, elapsed, leading: new Dictionary<string, object?>
            {
                ["location"] = location,
                ["path"] = s.Paths[0],
                ["objects"] = objects,
            }));
            return;
        }
        if (quiet)
        {
            return;
        }
        Console.WriteLine($"Objects: {s.Stats.FilesNew} new, {s.Stats.FilesChanged} changed, {s.Stats.FilesUnchanged} unmodified (downloaded {Format.Bytes(s.Stats.BytesRead)} of {Format.Bytes(s.Stats.BytesTotal)})");
        Console.WriteLine(BackupSummary.Added(s, elapsed));
        Console.WriteLine($"snapshot {result.SnapshotId[..8]} of {location} saved as {s.Paths[0]} ({BackupSummary.Version(s)})");
        if (s.Partial)
        {
            Console.Error.WriteLine($"warning: {s.Skipped.Count} objects could not be read; the snapshot lists them and is partial");
        }
    }
}
