using System.CommandLine;
using System.Globalization;
using Strata.Cli.Output;
using Strata.Index;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

internal static class CheckCommand
{
    private static readonly Option<bool> ReadData = new("--read-data") { Description = "also read every pack and verify every blob (reads cold data: thawed first, priced)" };
    private static readonly Option<string?> ReadDataSubset = new("--read-data-subset") { Description = "read only a subset of the packs: 'n/m' (the n-th of m groups, by pack id; run 1/m ... m/m over time to cover all) or 'x%' (a random x percent)", HelpName = "SUBSET" };
    private static readonly ColdOptions Cold = new();

    public static Command Create()
    {
        var cmd = new Command("check", "check the repository's structure; with --read-data, every byte");
        cmd.Options.Add(ReadData);
        cmd.Options.Add(ReadDataSubset);
        Cold.AddTo(cmd);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            ColdSettings cold = Cold.Read(p);
            Func<PackRecord, bool>? subset = ParseSubset(p.GetValue(ReadDataSubset));
            bool readData = p.GetValue(ReadData) || subset is not null;
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner(readData ? "check --read-data" : "check");
            await repo.LoadIndexAsync(ct, keepCatalogs: true);
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            if (readData)
            {
                var toRead = new List<ObjectInfo>();
                foreach (PackRecord pack in repo.Index.Packs.Where(x => x.ObjectName.Tier == Tier.Cold && (subset is null || subset(x))))
                {
                    toRead.Add(new ObjectInfo(pack.ObjectName, pack.Length));
                }
                if (!quiet && !json)
                {
                    Console.Error.WriteLine($"reading {toRead.Count} of {repo.Index.Packs.Count(x => x.ObjectName.Tier == Tier.Cold)} cold packs ({Format.Bytes(toRead.Sum(o => o.Length))})");
                }
                if (repo.Store.Properties.HasColdTier && !await MaintenanceCommon.ThawAsync(repo, toRead, cold, "check --read-data", ct))
                {
                    return ExitCodes.WaitingForThaw;
                }
            }
            CheckResult r = await new Checker(repo).RunAsync(readData, quiet || json ? null : m => Console.Error.WriteLine(m), ct, subset);
            foreach (var f in r.Findings)
            {
                if (json)
                {
                    Format.JsonLine(new() { ["message_type"] = "finding", ["severity"] = f.Note ? "note" : "error", ["object"] = f.Object, ["problem"] = f.Problem, ["advice"] = f.Advice });
                }
                else
                {
                    Console.WriteLine($"{(f.Note ? "note" : "error")}: {f.Object}: {f.Problem}\n       -> {f.Advice}");
                }
            }
            if (json)
            {
                Format.JsonLine(new() { ["message_type"] = "summary", ["snapshots"] = r.Snapshots, ["trees"] = r.Trees, ["blobs"] = r.Blobs, ["packs_read"] = r.PacksRead, ["bucket_points"] = r.Points, ["findings"] = r.Problems, ["notes"] = r.Findings.Count - r.Problems });
            }
            else if (!quiet)
            {
                Console.WriteLine($"checked {r.Snapshots} snapshots, {r.Trees} trees, {r.Blobs} blobs{(r.Points > 0 ? $", {r.Points} bucket points" : "")}{(readData ? $", read {r.PacksRead} packs" : "")}: {(r.Ok ? "no errors" : $"{r.Problems} problems")}{(r.Findings.Count > r.Problems ? $", {r.Findings.Count - r.Problems} notes" : "")}");
            }
            return r.Ok ? ExitCodes.Ok : ExitCodes.Damaged;
        }));
        return cmd;
    }

    /// <summary>'n/m': packs whose first id byte mod m is n-1 (as restic does); 'x%': each pack with probability x/100, fixed for the run.</summary>
    internal static Func<PackRecord, bool>? ParseSubset(string? spec)
    {
        if (spec is null)
        {
            return null;
        }
        string s = spec.Trim();
        if (s.EndsWith('%'))
        {
            if (!double.TryParse(s[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double pct) || pct <= 0 || pct > 100)
            {
                throw new UserInputException($"--read-data-subset {spec}: a percentage must be more than 0% and at most 100%");
            }
            // Random per run, but the same answer for the same pack within the run (the thaw plan and the read agree).
            int salt = Random.Shared.Next();
            return p => (uint)HashCode.Combine(salt, p.Id) % 1_000_000 < pct * 10_000;
        }
        string[] parts = s.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int m) || m < 1 || m > 256 || n < 1 || n > m)
        {
            throw new UserInputException($"--read-data-subset {spec}: expected n/m with 1 <= n <= m <= 256 (e.g. 1/10), or a percentage (e.g. 5%)");
        }
        return p => p.Id.ToBytes()[0] % m == n - 1;
    }
}
