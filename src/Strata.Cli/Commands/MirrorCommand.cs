using System.CommandLine;
using System.Diagnostics;
using Strata.Cli.Output;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>
/// strata mirror --to STORE: copies every object of the repository (--repo) that STORE lacks, as it is (same keys,
/// nothing decrypted, no passphrase). Safe to repeat and to interrupt. Cold packs land in the target's cold class.
/// </summary>
internal static class MirrorCommand
{
    private static readonly Option<string> To = new("--to") { Description = "where to mirror to: a folder, s3:..., rest:...", Required = true };
    private static readonly Option<string?> ColdClass = new("--cold-class") { Description = "S3 storage class for data packs in the mirror (default: the repository's cold class from its config)" };
    private static readonly Option<int> Parallel = new("--parallel") { Description = "objects copied at once (default 4)", DefaultValueFactory = _ => 4 };

    public static Command Create()
    {
        var cmd = new Command("mirror", "copy every object the target store lacks (same keys; safe to repeat; cold packs go to the cold class)");
        cmd.Options.Add(To);
        cmd.Options.Add(ColdClass);
        cmd.Options.Add(Parallel);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    /// <summary>Opens the source and the target as a mirror of it: the target's cold class from --cold-class or the source config, never staged.</summary>
    public static async Task<(IStore Source, IStore Target)> OpenAsync(string from, string to, string? coldClass, CancellationToken ct)
    {
        IStore source = StoreRegistry.Open(from);
        RepoConfig config = await Repo.ReadConfigAsync(source, ct);
        source = StoreRegistry.ApplyStorage(source, from, config.Storage);
        return (source, await OpenTargetAsync(to, config, coldClass, ct));
    }

    /// <summary>The mirror's store (an S3 bucket is created if missing); data packs go to the cold class.</summary>
    public static async Task<IStore> OpenTargetAsync(string to, RepoConfig config, string? coldClass, CancellationToken ct)
    {
        // An Azure tier and an S3 class name each other's nearest equivalent, so a mirror may cross providers.
        string cold = StoreRegistry.ColdClassFor(to, coldClass ?? config.Storage.ColdClass);
        await StoreRegistry.PrepareForInitAsync(to, ct);
        // Each object is checked against its name before it is written, so the mirror needs no warm staging.
        return StoreRegistry.ApplyStorage(StoreRegistry.Open(to), to, config.Storage with { ColdClass = cold, StageWarm = false });
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        string from = GlobalOptions.RepoLocation(p);
        string to = p.GetValue(To)!;
        int parallel = p.GetValue(Parallel);
        if (parallel is < 1 or > 64)
        {
            throw new UserInputException($"--parallel: {parallel} is not between 1 and 64");
        }
        bool json = p.GetValue(GlobalOptions.Json);
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        var (source, target) = await OpenAsync(from, to, p.GetValue(ColdClass), ct);
        await using var s1 = source;
        await using var s2 = target;
        if (source.Location == target.Location)
        {
            throw new UserInputException($"--to is the repository itself ({StoreRegistry.Redact(to)})");
        }
        var sw = Stopwatch.StartNew();
        var mirror = new Mirror(source, target)
        {
            Parallelism = parallel,
            Planned = (n, bytes) =>
            {
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "plan", ["objects"] = n, ["bytes"] = bytes });
                }
                else if (!quiet)
                {
                    Console.Error.WriteLine($"mirroring {StoreRegistry.Redact(from)} to {StoreRegistry.Redact(to)}: {n} objects ({Format.Bytes(bytes)}) to copy");
                }
            },
            Copied = o =>
            {
                if (json)
                {
                    lock (sw)
                    {
                        Format.JsonLine(new() { ["message_type"] = "copied", ["object"] = o.Name.Path, ["bytes"] = o.Length });
                    }
                }
            },
        };
        Task<MirrorResult> run = mirror.RunAsync(ct);
        if (!json && !quiet && !Console.IsErrorRedirected)
        {
            while (await Task.WhenAny(run, Task.Delay(2000, ct)) != run)
            {
                Console.Error.WriteLine($"  {mirror.ObjectsCopied}/{mirror.ObjectsPlanned} objects, {Format.Bytes(mirror.BytesCopied)}");
            }
        }
        MirrorResult r = await run;
        foreach (string problem in r.Problems)
        {
            Console.Error.WriteLine($"error: {problem}");
        }
        if (json)
        {
            Format.JsonLine(new()
            {
                ["message_type"] = "summary",
                ["objects_copied"] = r.Copied,
                ["bytes_copied"] = r.BytesCopied,
                ["already_there"] = r.AlreadyThere,
                ["vanished"] = r.Vanished,
                ["problems"] = r.Problems.Count,
                ["seconds"] = sw.Elapsed.TotalSeconds,
            });
        }
        else if (!quiet)
        {
            Console.WriteLine($"copied {r.Copied} objects ({Format.Bytes(r.BytesCopied)}) in {Format.Duration(sw.Elapsed)}; {r.AlreadyThere} were there already{(r.Vanished > 0 ? $", {r.Vanished} vanished from the source meanwhile" : "")}{(r.Problems.Count > 0 ? $"; {r.Problems.Count} problems" : "")}");
        }
        return r.Problems.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }
}
