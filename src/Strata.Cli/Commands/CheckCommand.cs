using System.CommandLine;
using Strata.Cli.Output;
using Strata.Maintenance;
using Strata.Repository;

namespace Strata.Cli.Commands;

internal static class CheckCommand
{
    private static readonly Option<bool> ReadData = new("--read-data") { Description = "also read every pack and verify every blob (reads cold data)" };

    public static Command Create()
    {
        var cmd = new Command("check", "check the repository's structure; with --read-data, every byte");
        cmd.Options.Add(ReadData);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
            bool readData = p.GetValue(ReadData);
            repo.RequireOwner(readData ? "check --read-data" : "check");
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            CheckResult r = await new Checker(repo).RunAsync(readData, quiet || json ? null : m => Console.Error.WriteLine(m), ct);
            foreach (var f in r.Findings)
            {
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "finding", ["object"] = f.Object, ["problem"] = f.Problem, ["advice"] = f.Advice });
                }
                else
                {
                    Console.WriteLine($"error: {f.Object}: {f.Problem}\n       -> {f.Advice}");
                }
            }
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "summary", ["snapshots"] = r.Snapshots, ["trees"] = r.Trees, ["blobs"] = r.Blobs, ["packs_read"] = r.PacksRead, ["findings"] = r.Findings.Count });
            }
            else if (!quiet)
            {
                Console.WriteLine($"checked {r.Snapshots} snapshots, {r.Trees} trees, {r.Blobs} blobs{(readData ? $", read {r.PacksRead} packs" : "")}: {(r.Ok ? "no errors" : $"{r.Findings.Count} problems")}");
            }
            return r.Ok ? ExitCodes.Ok : ExitCodes.Damaged;
        }));
        return cmd;
    }
}
