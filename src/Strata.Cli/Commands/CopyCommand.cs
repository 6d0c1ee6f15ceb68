using System.CommandLine;
using Strata.Cli.Output;
using Strata.Locks;
using Strata.Maintenance;
using Strata.Repository;

namespace Strata.Cli.Commands;

/// <summary>
/// strata copy --from A --to B [SNAPSHOT...]: copies snapshots (trees, data, band records) into another repository
/// with its own keys; blobs are re-identified with the target's dedup key and sealed to its public key, and what
/// the target already has is not stored again. Snapshots the target already holds are skipped, so it can be repeated.
/// </summary>
internal static class CopyCommand
{
    private static readonly Option<string?> From = new("--from") { Description = "the repository to copy from (default: --repo)" };
    private static readonly Option<string?> To = new("--to") { Description = "the repository to copy into (default: --repo)" };
    private static readonly Option<string?> FromPasswordFile = new("--from-password-file") { Description = "passphrase of the source (default: $STRATA_FROM_PASSWORD_FILE, $STRATA_FROM_PASSWORD, else the usual password sources)" };
    private static readonly Option<string?> ToPasswordFile = new("--to-password-file") { Description = "passphrase of the target (default: $STRATA_TO_PASSWORD_FILE, $STRATA_TO_PASSWORD, else the usual password sources); a writer key is enough" };
    private static readonly Argument<string[]> Snapshots = new("snapshot") { Arity = ArgumentArity.ZeroOrMore, Description = "snapshot ids (or 'latest'); default: every snapshot" };

    public static Command Create()
    {
        var cmd = new Command("copy", "copy snapshots into another repository (its own keys; only what it lacks is stored)");
        foreach (Option o in new Option[] { From, To, FromPasswordFile, ToPasswordFile })
        {
            cmd.Options.Add(o);
        }
        cmd.Arguments.Add(Snapshots);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static string PasswordFor(ParseResult p, Option<string?> file, string prefix, string which)
    {
        if (p.GetValue(file) is { } f)
        {
            return GlobalOptions.ReadPasswordFile(f);
        }
        if (Environment.GetEnvironmentVariable($"STRATA_{prefix}_PASSWORD_FILE") is { Length: > 0 } ef)
        {
            return GlobalOptions.ReadPasswordFile(ef);
        }
        if (Environment.GetEnvironmentVariable($"STRATA_{prefix}_PASSWORD") is { } e)
        {
            return e;
        }
        return GlobalOptions.Password(p, $"enter passphrase of the {which} repository: ");
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        string? from = p.GetValue(From), to = p.GetValue(To);
        if (from is null && to is null)
        {
            throw new UserInputException("give --from REPOSITORY and --to REPOSITORY (one of them may be --repo)");
        }
        from ??= GlobalOptions.RepoLocation(p);
        to ??= GlobalOptions.RepoLocation(p);
        if (from == to)
        {
            throw new UserInputException($"--from and --to are the same repository ({StoreRegistry.Redact(from)})");
        }
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);

        await using Repo source = await GlobalOptions.OpenRepoAtAsync(from, () => PasswordFor(p, FromPasswordFile, "FROM", "source"), ct, loadIndex: false);
        source.RequireOwner("copy (reading the source)");
        await using Repo target = await GlobalOptions.OpenRepoAtAsync(to, () => PasswordFor(p, ToPasswordFile, "TO", "target"), ct, loadIndex: false);
        if (source.Config.Id == target.Config.Id)
        {
            throw new UserInputException($"{StoreRegistry.Redact(from)} and {StoreRegistry.Redact(to)} are the same repository (id {source.Config.Id[..10]}); use 'strata mirror' for a copy of the objects");
        }
        // Shared locks: a purge on either side must not delete what is being read or deduplicated against.
        await using RepoLock sourceLock = await Locking.AcquireAsync(p, source, LockMode.Shared, "copy", null, ct);
        await using RepoLock targetLock = await Locking.AcquireAsync(p, target, LockMode.Shared, "copy", null, ct);
        await source.LoadIndexAsync(ct);
        await target.LoadIndexAsync(ct);

        string[] wanted = p.GetValue(Snapshots) ?? [];
        var all = await source.ListSnapshotsAsync(ct);
        List<SnapshotRef> chosen;
        if (wanted.Length == 0)
        {
            chosen = all;
        }
        else
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (string w in wanted)
            {
                set.Add((await source.FindSnapshotAsync(w, ct)).Id);
            }
            chosen = all.Where(s => set.Contains(s.Id)).ToList();
        }

        var copier = new Copier(source, target)
        {
            Starting = (i, n, s) =>
            {
                if (!quiet && !json)
                {
                    Console.Error.WriteLine($"[{i + 1}/{n}] snapshot {s.ShortId} of {s.Snapshot.Host}:{string.Join(",", s.Snapshot.Paths)} at {s.Snapshot.Time:u}");
                }
            },
        };
        var results = await copier.CopyAsync(chosen, ct);
        var settled = await Archiver.StageSettler.SettleAsync(target, ct);
        foreach (string f in settled.Failed)
        {
            Console.Error.WriteLine($"warning: {f}");
        }
        foreach (CopiedSnapshot r in results)
        {
            if (json)
            {
                Format.JsonLine(new()
                {
                    ["message_type"] = "snapshot",
                    ["source_id"] = r.SourceId,
                    ["target_id"] = r.TargetId,
                    ["already_there"] = r.AlreadyThere,
                    ["blobs_added"] = r.BlobsAdded,
                    ["data_added"] = r.BytesAdded,
                    ["packs_added"] = r.PacksAdded,
                });
            }
            else if (!quiet)
            {
                Console.WriteLine(r.AlreadyThere
                    ? $"snapshot {r.SourceId[..8]}: already in the target as {r.TargetId[..8]}"
                    : $"snapshot {r.SourceId[..8]} copied as {r.TargetId[..8]}: {r.BlobsAdded} new blobs, {Format.Bytes(r.BytesAdded)} added, {r.PacksAdded} packs");
            }
        }
        int copied = results.Count(r => !r.AlreadyThere);
        if (json)
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "summary",
                ["snapshots_copied"] = copied,
                ["snapshots_skipped"] = results.Count - copied,
                ["data_added"] = results.Sum(r => r.BytesAdded),
                ["packs_added"] = results.Sum(r => r.PacksAdded),
            });
        }
        else if (!quiet)
        {
            Console.WriteLine($"copied {copied} of {results.Count} snapshots ({results.Count - copied} already there), {Format.Bytes(results.Sum(r => r.BytesAdded))} of new data");
        }
        return ExitCodes.Ok;
    }
}
