using System.CommandLine;
using Strata.Archiver;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Restorer;

namespace Strata.Cli.Commands;

internal static class RestoreCommand
{
    private static readonly Argument<string> SnapshotArg = new("snapshot") { Description = "snapshot id (or unique prefix), or 'latest'" };
    private static readonly Option<string> Target = new("--target", "-t") { Description = "folder to restore into; absolute paths are recreated under it", Required = true };
    private static readonly Option<string[]> Include = new("--include", "-i") { Description = "restore only paths matching GLOB (repeatable)" };
    private static readonly Option<string[]> Exclude = new("--exclude", "-e") { Description = "do not restore paths matching GLOB (repeatable)" };

    public static Command Create()
    {
        var cmd = new Command("restore", "restore a snapshot into a folder");
        cmd.Arguments.Add(SnapshotArg);
        cmd.Options.Add(Target);
        cmd.Options.Add(Include);
        cmd.Options.Add(Exclude);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
        repo.RequireOwner("restore");
        SnapshotRef snap = await repo.FindSnapshotAsync(p.GetValue(SnapshotArg)!, ct);
        var options = new RestoreOptions
        {
            Target = p.GetValue(Target)!,
            Includes = new ExcludeMatcher(p.GetValue(Include) ?? []),
            Excludes = new ExcludeMatcher(p.GetValue(Exclude) ?? []),
        };
        var result = await new Restorer.Restorer(repo, options).RunAsync(snap.Snapshot, ct);
        bool json = p.GetValue(GlobalOptions.Json);
        foreach (var f in result.Failures)
        {
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "error", ["item"] = f.Path, ["error"] = f.Error });
            }
            else
            {
                Console.Error.WriteLine($"error: could not restore {f.Path}: {f.Error}");
            }
        }
        if (json)
        {
            Format.JsonLine(new() { ["message_type"] = "summary", ["snapshot_id"] = snap.Id, ["files_restored"] = result.Files, ["bytes_restored"] = result.Bytes, ["failures"] = result.Failures.Count });
        }
        else if (!p.GetValue(GlobalOptions.Quiet))
        {
            Console.WriteLine($"restored snapshot {snap.ShortId}: {result.Files} files, {Format.Bytes(result.Bytes)} into {Path.GetFullPath(options.Target)}");
            if (result.Failures.Count > 0)
            {
                Console.Error.WriteLine($"{result.Failures.Count} items could not be restored (listed above); everything else was restored");
            }
        }
        return result.Failures.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }
}
