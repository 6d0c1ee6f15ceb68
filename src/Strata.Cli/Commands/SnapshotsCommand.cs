using System.CommandLine;
using Strata.Cli.Output;
using Strata.Repository;

namespace Strata.Cli.Commands;

internal static class SnapshotsCommand
{
    public static Command Create()
    {
        var cmd = new Command("snapshots", "list snapshots");
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            var list = await repo.ListSnapshotsAsync(ct);
            if (p.GetValue(GlobalOptions.Json))
            {
                var rows = list.Select(s => new Dictionary<string, object?>
                {
                    ["id"] = s.Id,
                    ["short_id"] = s.ShortId,
                    ["time"] = s.Snapshot.Time,
                    ["host"] = s.Snapshot.Host,
                    ["username"] = s.Snapshot.Username,
                    ["paths"] = s.Snapshot.Paths,
                    ["tags"] = s.Snapshot.Tags,
                    ["tree"] = s.Snapshot.Tree,
                    ["parent"] = s.Snapshot.Parent,
                    ["source_id"] = s.Snapshot.SourceId,
                    ["version"] = s.Snapshot.Version,
                    ["unchanged_since"] = s.Snapshot.UnchangedSince,
                    ["seconds_since_previous"] = s.Snapshot.SecondsSincePrevious,
                    ["partial"] = s.Snapshot.Partial,
                    ["skipped"] = s.Snapshot.Skipped.Select(x => x.Path).ToList(),
                    ["changed_while_reading"] = s.Snapshot.ChangedWhileReading,
                    ["bytes_total"] = s.Snapshot.Stats.BytesTotal,
                    ["data_added"] = s.Snapshot.Stats.BytesAdded,
                    ["filters"] = s.Snapshot.Filters,
                    ["policy"] = s.Snapshot.Policy,
                    ["worm_changes"] = s.Snapshot.WormChanges?.Select(c =>
                    {
                        var d = WormCommand.ToJson(c, null, null);
                        d.Remove("message_type");
                        d.Remove("snapshot_id");
                        d.Remove("compared_with");
                        return d;
                    }).ToList(),
                    ["source"] = Source(s.Snapshot.Source),
                }).ToList();
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(rows, CliJson.Default.ListDictionaryStringObject));
                return ExitCodes.Ok;
            }
            Console.WriteLine($"{"ID",-9} {"Time",-19} {"Host",-14} {"Version",-26} {"Size",10}  Paths");
            Console.WriteLine(new string('-', 100));
            foreach (var s in list)
            {
                var sn = s.Snapshot;
                string ver = sn.UnchangedSince is { } u ? $"v{u} (unchanged)"
                    : sn.SecondsSincePrevious is { } sec ? $"v{sn.Version}, {Format.Duration(TimeSpan.FromSeconds(sec))} after v{sn.Version - 1}" : $"v{sn.Version}";
                int worm = sn.WormChanges?.Count(c => c.IsViolation) ?? 0;
                string policy = sn.Policy is null ? "" : worm > 0 ? $" ({sn.Policy}: {worm} changed!)" : $" ({sn.Policy})";
                string source = sn.Source is { Location: { } loc } ? $" (copy of {loc})"
                    : sn.Source is { } src ? $" ({src.Kind}{(src.Database is { } db ? " " + db : "")})" : "";
                string flags = source + (sn.Partial ? " (partial)" : "") + policy + (sn.Tags.Count > 0 ? " [" + string.Join(",", sn.Tags) + "]" : "");
                Console.WriteLine($"{s.ShortId,-9} {sn.Time.ToLocalTime():yyyy-MM-dd HH:mm:ss} {Trim(sn.Host, 14),-14} {Trim(ver, 26),-26} {Format.Bytes(sn.Stats.BytesTotal),10}  {string.Join(" ", sn.Paths)}{flags}");
            }
            Console.WriteLine(new string('-', 100));
            Console.WriteLine($"{list.Count} snapshots");
            if (DeadShare.Line(p, repo) is { } note)
            {
                Console.WriteLine(note);
            }
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    /// <summary>A stream snapshot's origin (never a password), or null for a backup of paths.</summary>
    private static Dictionary<string, object?>? Source(Strata.Snapshots.SourceInfo? info) => info is null ? null : new()
    {
        ["kind"] = info.Kind,
        ["file_name"] = info.FileName,
        ["database"] = info.Database,
        ["database_host"] = info.DatabaseHost,
        ["database_port"] = info.DatabasePort,
        ["database_user"] = info.DatabaseUser,
        ["tool"] = info.Tool,
        ["tool_version"] = info.ToolVersion,
        ["format"] = info.Format,
        ["location"] = info.Location,
    };

    private static string Trim(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}
