using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Locks;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

internal static class BackupCommand
{
    private static readonly Argument<string[]> Paths = new("paths") { Arity = ArgumentArity.ZeroOrMore, Description = "files and folders to back up" };
    private static readonly Option<string[]> Exclude = new("--exclude", "-e") { Description = "exclude paths matching GLOB (repeatable)", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string[]> ExcludeFile = new("--exclude-file") { Description = "read exclude globs from a file, one per line (repeatable)" };
    private static readonly Option<string[]> IExclude = new("--iexclude") { Description = "like --exclude, ignoring case (repeatable)" };
    private static readonly Option<string[]> IExcludeFile = new("--iexclude-file") { Description = "like --exclude-file, ignoring case (repeatable)" };
    private static readonly Option<string[]> Include = new("--include") { Description = "back up paths matching GLOB even when another filter leaves them out (repeatable)" };
    private static readonly Option<bool> ExcludeCaches = new("--exclude-caches") { Description = "leave out folders holding a CACHEDIR.TAG with the standard signature" };
    private static readonly Option<string[]> ExcludeIfPresent = new("--exclude-if-present") { Description = "leave out folders holding a file NAME (NAME:HEADER: whose content starts with HEADER) (repeatable)" };
    private static readonly Option<string?> ExcludeLargerThan = new("--exclude-larger-than") { Description = "leave out files larger than SIZE (e.g. 10M, 1G)" };
    private static readonly Option<bool> GitIgnore = new("--gitignore") { Description = "honour .gitignore files, .git/info/exclude and git's global excludes file" };
    private static readonly Option<bool> NoGitIgnore = new("--no-gitignore") { Description = "with --policy dedup: do not honour .gitignore files" };
    private static readonly Option<bool> NoExcludeCaches = new("--no-exclude-caches") { Description = "with --policy dedup: back up cache folders too" };
    private static readonly Option<string?> Policy = new("--policy") { Description = "how this source is kept: worm (files never change; changes are reported), dedup (source trees: --gitignore and --exclude-caches by default), sync (mirror it into --to as plain files, no repository: see strata sync), none; remembered per source" };
    private static readonly Option<string?> SyncTo = new("--to") { Description = "with --policy sync: the folder or s3:... target the source is mirrored into", HelpName = "TARGET" };
    private static readonly Option<bool> Force = new("--force") { Description = "read every file again, even when its metadata is unchanged (with --policy worm: also detects bit rot)" };
    private static readonly Option<bool> OneFileSystem = new("--one-file-system", "-x") { Description = "do not cross file system boundaries" };
    private static readonly Option<string[]> Tag = new("--tag") { Description = "add a tag to the snapshot (repeatable)" };
    private static readonly Option<string?> Host = new("--host") { Description = "record this host name (default: this machine's)" };
    private static readonly Option<string?> Parent = new("--parent") { Description = "compare with this snapshot instead of the latest of the same paths" };
    private static readonly StreamOptions Streams = new();

    public static Command Create()
    {
        var cmd = new Command("backup", "back up files and folders into the repository");
        cmd.Arguments.Add(Paths);
        foreach (Option o in new Option[] { Exclude, ExcludeFile, IExclude, IExcludeFile, Include, ExcludeCaches, ExcludeIfPresent, ExcludeLargerThan, GitIgnore, NoGitIgnore, NoExcludeCaches, Policy, SyncTo, Force, OneFileSystem, Tag, Host, Parent })
        {
            cmd.Options.Add(o);
        }
        Streams.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        if (p.GetValue(Policy) is { } named && named.Trim().Equals("sync", StringComparison.OrdinalIgnoreCase))
        {
            // The sync policy keeps no repository: it mirrors the folder into --to as plain files (strata sync).
            string[] syncPaths = p.GetValue(Paths) ?? [];
            string to = p.GetValue(SyncTo) ?? throw new UserInputException("--policy sync needs --to TARGET (a folder or s3:...): the folder is mirrored there as plain files");
            if (syncPaths.Length != 1)
            {
                throw new UserInputException($"--policy sync mirrors exactly one folder; {syncPaths.Length} paths were given");
            }
            return await SyncCommand.RunAsync(p, syncPaths[0], to, dry: false, ct);
        }
        if (p.GetValue(SyncTo) is not null)
        {
            throw new UserInputException("--to is only for --policy sync");
        }
        FilterOptions filters = ReadFilters(p);
        SourcePolicy? explicitPolicy = p.GetValue(Policy) is { } pn
            ? SourcePolicies.Parse(pn) ?? throw new UserInputException($"--policy: '{pn}' is not a policy (worm, dedup or none)")
            : null;
        string[] paths = p.GetValue(Paths) ?? [];
        StreamRequest? stream = Streams.Read(p, paths.Length);
        if (stream is not null)
        {
            // A stream has no folders to filter, no metadata to compare, no policy to keep: say so rather than ignore.
            Option[] fileOnly = [Exclude, ExcludeFile, IExclude, IExcludeFile, Include, ExcludeCaches, ExcludeIfPresent, ExcludeLargerThan, GitIgnore, NoGitIgnore, NoExcludeCaches, Policy, Force, OneFileSystem];
            if (fileOnly.FirstOrDefault(o => p.GetResult(o) is { Implicit: false }) is { } misplaced)
            {
                throw new UserInputException($"{misplaced.Name} applies to a backup of files and folders, not to a stream ({stream.Option})");
            }
            return await RunStreamAsync(p, stream, json, quiet, ct);
        }
        if (paths.Length == 0)
        {
            throw new UserInputException("what should be backed up? give files and folders, or one of --stdin, --stdin-from-command CMD, --postgres URL, --mysql URL");
        }
        foreach (string path in paths)
        {
            if (!Platform.Posix.TryLStat(Platform.Posix.ToBytes(Path.GetFullPath(path)), out _, out int errno))
            {
                throw new UserInputException($"cannot back up {path}: {Platform.Posix.StrError(errno)}");
            }
        }
        var given = paths.Select(Path.GetFullPath).ToList();
        var normalized = Archiver.Archiver.NormalizePaths(paths);
        if (given.Count != given.Distinct().Count() && !quiet && !json)
        {
            Console.Error.WriteLine("note: a path was given more than once; it is backed up once");
        }

        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        string host = p.GetValue(Host) ?? Environment.MachineName;
        // The lock comes before the index: a purge that holds the exclusive lock may be deleting packs the index lists.
        await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Host, "backup", host, ct);
        using var lockedCts = CancellationTokenSource.CreateLinkedTokenSource(ct, held.Lost);
        ct = lockedCts.Token;
        try
        {
            await repo.LoadIndexAsync(ct);
            var parents = new ParentTrees(repo, GlobalOptions.CacheRoot(p));
            string sourceId = Archiver.Archiver.SourceId(repo.Keys, host, normalized);
            string? previousPolicyName = await parents.PreviousPolicyAsync(sourceId, ct);
            SourcePolicy previousPolicy = SourcePolicies.Parse(previousPolicyName) ?? SourcePolicy.None;
            SourcePolicy policy = explicitPolicy ?? previousPolicy;
            if (explicitPolicy is { } changed && previousPolicyName is not null && changed != previousPolicy && !json && !quiet)
            {
                Console.Error.WriteLine($"note: the policy of this source changes from {previousPolicyName} to {SourcePolicies.Name(changed) ?? "none"}");
            }
            filters = WithPolicyDefaults(filters, policy, p);
            // Never back up the repository itself or Strata's cache when they lie inside the paths (e.g. `strata backup ~`).
            var own = new List<string> { GlobalOptions.CacheRoot(p) };
            if (repo.Store.Find<Strata.Stores.LocalStore>() is { } local)
            {
                own.Add(local.Root);
            }
            var inside = own.Select(Path.GetFullPath).Where(o => normalized.Any(n => o == n || o.StartsWith(n.TrimEnd('/') + "/", StringComparison.Ordinal))).ToList();
            if (inside.Count > 0)
            {
                filters = filters with { Excludes = [.. filters.Excludes, .. inside.Select(ExcludeMatcher.EscapeLiteral)] };
            }
            var filter = new Archiver.SourceFilter(filters, message =>
            {
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "warning", ["message"] = message });
                }
                else
                {
                    Console.Error.WriteLine($"warning: {message}");
                }
            });
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
            progress.Changed += path =>
            {
                if (!json)
                {
                    Console.Error.WriteLine($"warning: {path} changed while it was read; recorded as changed");
                }
            };
            var options = new BackupOptions
            {
                Paths = normalized,
                Filter = filter,
                OneFileSystem = p.GetValue(OneFileSystem),
                Tags = p.GetValue(Tag) ?? [],
                Host = host,
                Parent = p.GetValue(Parent),
                Policy = policy,
                Force = p.GetValue(Force),
            };
            var archiver = new Archiver.Archiver(repo, options, progress, parents);
            var sw = Stopwatch.StartNew();
            Task<BackupResult> run = archiver.RunAsync(ct);
            BackupResult result;
            if (json)
            {
                while (await Task.WhenAny(run, Task.Delay(1000, ct)) != run)
                {
                    Format.JsonLine(Status(progress, sw.Elapsed));
                }
                result = await run;
            }
            else if (!quiet && !Console.IsErrorRedirected)
            {
                result = await ShowBarAsync(run, progress, sw);
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
            if (settled.Moved > 0 && !quiet && !json)
            {
                Console.WriteLine($"verified {settled.Moved} staged packs and moved them to {repo.Store.Properties.ColdStorageClass}");
            }

            var s = result.Snapshot;
            if (json)
            {
                Format.JsonLine(BackupSummary.Json(result.SnapshotId, s, sw.Elapsed, trailing: new Dictionary<string, object?>
                {
                    ["changed_while_reading"] = s.ChangedWhileReading.Count,
                    ["policy"] = s.Policy,
                    ["worm_violations"] = s.WormChanges?.Count(c => c.IsViolation),
                    ["worm_metadata_changes"] = s.WormChanges?.Count(c => !c.IsViolation),
                }));
            }
            else if (!quiet)
            {
                Console.WriteLine($"Files: {s.Stats.FilesNew} new, {s.Stats.FilesChanged} changed, {s.Stats.FilesUnchanged} unmodified");
                Console.WriteLine($"Dirs:  {s.Stats.Directories}");
                Console.WriteLine(BackupSummary.Added(s));
                Console.WriteLine($"processed {s.Stats.FilesNew + s.Stats.FilesChanged + s.Stats.FilesUnchanged} files, {Format.Bytes(s.Stats.BytesTotal)} in {Format.Duration(sw.Elapsed)}");
                Console.WriteLine(s.UnchangedSince is null
                    ? $"snapshot {result.SnapshotId[..8]} saved ({BackupSummary.Version(s)})"
                    : $"snapshot {result.SnapshotId[..8]} saved: {BackupSummary.Version(s)}");
                if (s.Partial)
                {
                    Console.Error.WriteLine($"warning: {s.Skipped.Count} files or folders could not be read; the snapshot lists them and is partial");
                }
                if (repo.Keys.CanRead && DeadShare.Line(p, repo) is { } note)
                {
                    Console.WriteLine(note);
                }
                if (policy == SourcePolicy.Worm && s.Parent is not null && s.WormChanges is not null)
                {
                    Console.WriteLine($"Policy worm: {s.Stats.FilesNew} new files noted, {s.WormChanges.Count(c => c.IsViolation)} changed or deleted, {s.WormChanges.Count(c => !c.IsViolation)} with metadata changes only");
                }
                else if (policy != SourcePolicy.None)
                {
                    Console.WriteLine($"Policy {SourcePolicies.Name(policy)}");
                }
            }
            if (policy == SourcePolicy.Worm && s.Parent is not null && s.WormChanges is null)
            {
                Console.Error.WriteLine("warning: policy worm: the previous version's file list is not available here (a writer key without its local cache), so changed files could not be detected in this run; `strata verify` with the owner key can");
            }
            // The warning block goes to stderr even with --json or -q: a worm violation must not pass unnoticed.
            if (s.WormChanges is { } worm && worm.Count > 0)
            {
                WormCommand.PrintBackupWarning(result.SnapshotId, s, json);
            }
            if (s.WormChanges?.Any(c => c.IsViolation) == true)
            {
                return ExitCodes.WormChanged;
            }
            return s.Partial ? ExitCodes.Partial : ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (held.Lost.IsCancellationRequested)
        {
            throw new LockLostException(repo.Location);
        }
    }

    /// <summary>
    /// Policy dedup turns on --gitignore and --exclude-caches unless --no-gitignore / --no-exclude-caches say otherwise.
    /// </summary>
    private static FilterOptions WithPolicyDefaults(FilterOptions f, SourcePolicy policy, ParseResult p)
    {
        bool dedup = policy == SourcePolicy.Dedup;
        return f with
        {
            GitIgnore = !p.GetValue(NoGitIgnore) && (f.GitIgnore || dedup),
            ExcludeCaches = !p.GetValue(NoExcludeCaches) && (f.ExcludeCaches || dedup),
        };
    }

    /// <summary>The filter options as given (exclude files expanded, so the snapshot records the patterns themselves).</summary>
    private static FilterOptions ReadFilters(ParseResult p)
    {
        long? larger = p.GetValue(ExcludeLargerThan) is { } size ? Units.ParseSize(size, "--exclude-larger-than") : null;
        var options = new FilterOptions
        {
            Excludes = ExcludeMatcher.WithFiles(p.GetValue(Exclude) ?? [], p.GetValue(ExcludeFile) ?? []),
            ExcludesIgnoreCase = ExcludeMatcher.WithFiles(p.GetValue(IExclude) ?? [], p.GetValue(IExcludeFile) ?? []),
            Includes = p.GetValue(Include) ?? [],
            ExcludeCaches = p.GetValue(ExcludeCaches),
            ExcludeIfPresent = p.GetValue(ExcludeIfPresent) ?? [],
            ExcludeLargerThan = larger,
            GitIgnore = p.GetValue(GitIgnore),
        };
        // Invalid globs are usage errors here, before the repository is opened.
        _ = new ExcludeMatcher(options.Excludes);
        _ = new ExcludeMatcher(options.ExcludesIgnoreCase);
        _ = new ExcludeMatcher(options.Includes);
        return options;
    }

    /// <summary>
    /// A backup of one stream (stdin, a command, a database dump) into /NAME. The producer starts only once the
    /// repository is open; if it fails, the archiver saves no snapshot and the error (with the producer's last error
    /// output) reaches the user through <see cref="ExitCodes"/>.
    /// </summary>
    private static async Task<int> RunStreamAsync(ParseResult p, StreamRequest stream, bool json, bool quiet, CancellationToken ct)
    {
        if (stream.ReadsStdin && !GlobalOptions.HasPasswordSource(p))
        {
            throw new UserInputException("--stdin: standard input is the data to back up, so give the passphrase with --password-file, STRATA_PASSWORD_FILE or STRATA_PASSWORD");
        }
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        string host = p.GetValue(Host) ?? Environment.MachineName;
        // The lock comes before the index (see RunAsync), and both before the producer starts.
        await using RepoLock held = await Locking.AcquireAsync(p, repo, LockMode.Host, "backup", host, ct);
        using var lockedCts = CancellationTokenSource.CreateLinkedTokenSource(ct, held.Lost);
        ct = lockedCts.Token;
        try
        {
            await repo.LoadIndexAsync(ct);
            return await RunStreamLockedAsync(p, repo, stream, host, json, quiet, ct);
        }
        catch (OperationCanceledException) when (held.Lost.IsCancellationRequested)
        {
            throw new LockLostException(repo.Location);
        }
    }

    private static async Task<int> RunStreamLockedAsync(ParseResult p, Repo repo, StreamRequest stream, string host, bool json, bool quiet, CancellationToken ct)
    {
        await using Strata.Sources.StreamInput input = await stream.StartAsync(ct);
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
        var options = new BackupOptions
        {
            Paths = [],
            Input = input,
            Tags = p.GetValue(Tag) ?? [],
            Host = host,
            Parent = p.GetValue(Parent),
        };
        var archiver = new Archiver.Archiver(repo, options, progress, new ParentTrees(repo, GlobalOptions.CacheRoot(p)));
        var sw = Stopwatch.StartNew();
        Task<BackupResult> run = archiver.RunAsync(ct);
        BackupResult result;
        if (json)
        {
            while (await Task.WhenAny(run, Task.Delay(1000, ct)) != run)
            {
                Format.JsonLine(Status(progress, sw.Elapsed));
            }
            result = await run;
        }
        else if (!quiet && !Console.IsErrorRedirected)
        {
            result = await ShowBarAsync(run, progress, sw, stream.Describe(input));
        }
        else
        {
            result = await run;
        }
        string warnings = input.Warnings;
        if (warnings.Length > 0 && !quiet)
        {
            Console.Error.WriteLine($"note: {input.Info.Tool} succeeded and wrote to its error output:");
            Console.Error.WriteLine(string.Join("\n", warnings.Split('\n').Select(l => "  " + l)));
        }
        var settled = await StageSettler.SettleAsync(repo, ct);
        foreach (string f in settled.Failed)
        {
            Console.Error.WriteLine($"warning: {f}");
        }

        var s = result.Snapshot;
        Strata.Snapshots.SourceInfo info = input.Info;
        if (json)
        {
            Format.JsonLine(BackupSummary.Json(result.SnapshotId, s, sw.Elapsed, leading: new Dictionary<string, object?>
            {
                ["source"] = info.Kind,
                ["path"] = s.Paths[0],
                ["database"] = info.Database,
                ["tool_version"] = info.ToolVersion,
            }));
        }
        else if (!quiet)
        {
            Console.WriteLine($"Read {Format.Bytes(s.Stats.BytesRead)} from {stream.Describe(input)} into {s.Paths[0]}");
            if (info.ToolVersion is { Length: > 0 } v)
            {
                Console.WriteLine($"Tool:  {v}");
            }
            Console.WriteLine(BackupSummary.Added(s, sw.Elapsed));
            Console.WriteLine($"snapshot {result.SnapshotId[..8]} saved ({BackupSummary.Version(s)}); read it back with: strata dump {result.SnapshotId[..8]} {s.Paths[0]}");
        }
        return ExitCodes.Ok;
    }

    internal static Dictionary<string, object?> Status(BackupProgress pr, TimeSpan elapsed) => new()
    {
        ["message_type"] = "status",
        ["seconds_elapsed"] = (long)elapsed.TotalSeconds,
        ["percent_done"] = pr.BytesTotal > 0 ? Math.Min(1.0, (double)pr.BytesDone / pr.BytesTotal) : 0.0,
        ["total_files"] = pr.FilesTotal,
        ["files_done"] = pr.FilesDone,
        ["total_bytes"] = pr.BytesTotal,
        ["bytes_done"] = pr.BytesDone,
        ["current_files"] = new List<string> { pr.CurrentFile },
    };

    internal static async Task<BackupResult> ShowBarAsync(Task<BackupResult> run, BackupProgress pr, Stopwatch sw, string? stream = null)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        BackupResult? result = null;
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("scanning", maxValue: 1);
                // a stream's size is unknown until its end: count the bytes instead of a percentage
                task.IsIndeterminate = stream is not null;
                while (true)
                {
                    if (stream is not null)
                    {
                        task.Description = Markup.Escape($"{Format.Bytes(pr.BytesDone)} from {stream}");
                        if (await Task.WhenAny(run, Task.Delay(200)) == run)
                        {
                            break;
                        }
                        continue;
                    }
                    task.MaxValue = Math.Max(1, pr.BytesTotal);
                    task.Value = Math.Min(pr.BytesDone, task.MaxValue);
                    string cur = pr.CurrentFile;
                    if (cur.Length > 40)
                    {
                        cur = "…" + cur[^39..];
                    }
                    task.Description = Markup.Escape($"{pr.FilesDone}/{pr.FilesTotal}{(pr.ScanDone ? "" : "+")} files {Format.Bytes(pr.BytesDone)} {cur}");
                    if (await Task.WhenAny(run, Task.Delay(200)) == run)
                    {
                        break;
                    }
                }
                result = await run;
            });
        _ = sw;
        return result!;
    }
}
