using System.CommandLine;
using Strata.Maintenance;
using Strata.Repository;
using static Strata.Cli.Commands.ColdRead;

namespace Strata.Cli.Commands;

/// <summary>`strata repair index`: rebuilds the index from the warm catalogs, and from pack tails where a catalog is missing.</summary>
internal static class RepairCommand
{
    private static readonly ColdOptions Cold = new();

    public static Command Create()
    {
        var cmd = new Command("repair", "rebuild damaged or lost repository metadata");
        var index = new Command("index", "rebuild the index from the warm catalogs (no thaw); packs without a catalog are read from their tails, thawed first (priced)");
        Cold.AddTo(index);
        index.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        cmd.Subcommands.Add(index);
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        ColdSettings cold = Cold.Read(p);
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
        repo.RequireOwner("repair index");
        await using var held = await Locking.AcquireAsync(p, repo, Locks.LockMode.Exclusive, "repair index", null, ct);
        try
        {
            await repo.LoadIndexAsync(ct);
        }
        catch (CorruptionException e)
        {
            Console.Error.WriteLine($"note: the current index does not load ({e.Message}); it is rebuilt without it");
        }
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        RepairResult r = await IndexRepair.RunAsync(repo, quiet ? null : m => Console.Error.WriteLine(m), ct);
        if (r.Scan.NeedThaw.Count > 0)
        {
            Console.Error.WriteLine($"{N(r.Scan.NeedThaw.Count, "data pack")} have no warm catalog and cannot be read yet; their tails are needed to index them");
            if (!await MaintenanceCommon.ThawAsync(repo, r.Scan.NeedThaw, cold, "repair index", ct))
            {
                return ExitCodes.WaitingForThaw;
            }
            r = await IndexRepair.RunAsync(repo, quiet ? null : m => Console.Error.WriteLine(m), ct);
        }
        foreach (string d in r.Scan.Damaged)
        {
            Console.Error.WriteLine($"error: {d} -> left out of the index; run strata check --read-data");
        }
        foreach (string d in r.DroppedPacks)
        {
            Console.Error.WriteLine($"warning: {d} was in the old index but is not in the store: dropped (strata check lists the files that needed it)");
        }
        Console.WriteLine($"index rebuilt: {N(r.Scan.Packs.Count, "pack")}, {r.Scan.Packs.Values.Sum(x => x.Entries.Count)} blobs; {N(r.Scan.CatalogsRewritten.Count, "catalog")} rewritten from pack tails; {N(r.SegmentsRemoved, "old segment")} replaced");
        return r.Scan.Damaged.Count > 0 ? ExitCodes.Damaged : ExitCodes.Ok;
    }
}
