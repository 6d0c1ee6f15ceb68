using System.CommandLine;
using System.Text.Json.Serialization;
using Strata.Cli.Output;
using Strata.Costs;
using Strata.Repository;

namespace Strata.Cli.Commands;

/// <summary>
/// `strata stats`: sizes, object counts and monthly cost by tier and kind (from a listing of the store), and per
/// snapshot the bytes only it holds (from its trees and the index). Warm reads only.
/// </summary>
internal static class StatsCommand
{
    private static readonly Option<string?> Prices = new("--prices") { Description = "price table override file (see strata estimate --help)" };
    private static readonly Option<bool> NoSnapshots = new("--no-snapshots") { Description = "skip the per-snapshot sizes (they walk every snapshot's trees)" };

    public static Command Create()
    {
        var cmd = new Command("stats", "repository sizes, object counts and monthly cost by tier and kind; per snapshot, the bytes only it holds");
        cmd.Options.Add(Prices);
        cmd.Options.Add(NoSnapshots);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        PriceTable prices;
        try
        {
            prices = PriceTable.Load(p.GetValue(Prices));
        }
        catch (PriceTableException e)
        {
            throw new UserInputException(e.Message);
        }
        bool json = p.GetValue(GlobalOptions.Json);
        bool perSnapshot = !p.GetValue(NoSnapshots);
        await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: perSnapshot);
        var where = EstimateCommand.Where(prices, repo.Store.Properties, repo.Config);
        RepositoryStorageEstimate storage = RepositoryUsage.Price(prices, EstimateCommand.Properties(repo.Store.Properties, where), await RepositoryUsage.ListAsync(repo.Store, ct));

        IReadOnlyList<SnapshotUsage> snapshots = [];
        string? note = null;
        if (perSnapshot && !repo.Keys.CanRead)
        {
            note = "per-snapshot sizes need the owner key (this is a writer key)";
        }
        else if (perSnapshot)
        {
            snapshots = await RepositoryUsage.SnapshotsAsync(repo, await repo.ListSnapshotsAsync(ct), ct);
        }

        if (json)
        {
            var report = new StatsJson(
                EstimateCommand.StorageReport(storage, prices, where),
                [.. snapshots.Select(s => new SnapshotUsageJson(s.Id, s.Snapshot.Time, s.Snapshot.Host, s.Snapshot.Paths, s.Snapshot.Stats.BytesTotal,
                    s.ReferencedBlobs, s.ReferencedRawBytes, s.UniqueBlobs, s.UniqueRawBytes, s.UniqueStoredBytes, s.MissingBlobs))],
                note);
            EstimateCommand.Emit(report, StatsJsonContext.Default.StatsJson);
            return ExitCodes.Ok;
        }
        Console.WriteLine($"repository {repo.Location}");
        EstimateCommand.PrintStorage(storage);
        EstimateCommand.PrintSource(prices, where);
        if (note is not null)
        {
            Console.WriteLine(note);
        }
        else if (perSnapshot)
        {
            Console.WriteLine();
            Console.WriteLine($"{"snapshot",-9} {"time",-19} {"files size",11} {"referenced",11} {"only here",11} {"stored",11}  paths");
            foreach (SnapshotUsage s in snapshots)
            {
                Console.WriteLine($"{s.Id[..8],-9} {s.Snapshot.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss} {Format.Bytes(s.Snapshot.Stats.BytesTotal),11} {Format.Bytes(s.ReferencedRawBytes),11} {Format.Bytes(s.UniqueRawBytes),11} {Format.Bytes(s.UniqueStoredBytes),11}  {string.Join(" ", s.Snapshot.Paths)}{(s.MissingBlobs > 0 ? $"  ({s.MissingBlobs} blobs missing from the index)" : "")}");
            }
            Console.WriteLine("referenced: raw bytes of the distinct blobs the snapshot uses; only here: raw bytes no other snapshot uses (what forgetting it alone frees); stored: the same, compressed and encrypted");
        }
        return ExitCodes.Ok;
    }
}

internal sealed record SnapshotUsageJson(
    string Id, DateTimeOffset Time, string Host, IReadOnlyList<string> Paths, long FilesBytes,
    long ReferencedBlobs, long ReferencedRawBytes, long UniqueBlobs, long UniqueRawBytes, long UniqueStoredBytes, long MissingBlobs);

internal sealed record StatsJson(StorageJson Storage, IReadOnlyList<SnapshotUsageJson> Snapshots, string? Note)
{
    [JsonPropertyOrder(-1)]
    public string MessageType => "stats";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StatsJson))]
internal sealed partial class StatsJsonContext : JsonSerializerContext;
