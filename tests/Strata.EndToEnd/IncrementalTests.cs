using System.Text.Json;
using Strata.EndToEnd.Infrastructure;
using Strata.Platform;

namespace Strata.EndToEnd;

/// <summary>Second and later backups of the same source: change detection, versions, and diff.</summary>
public sealed class IncrementalTests : IDisposable
{
    private readonly Sandbox _box = new("incremental");

    public void Dispose() => _box.Dispose();

    private void BuildTree()
    {
        _box.Write("a.txt", "alpha\n");
        _box.Write("b.bin", Sandbox.RandomBytes(300_000, seed: 10));
        _box.Write("sub/c.txt", "gamma\n");
        _box.Write("sub/d.bin", Sandbox.RandomBytes(1_000_000, seed: 11));
        _box.Write("sub/deeper/e.txt", "epsilon\n");
        _box.Write("gone.txt", "to be removed\n");
        _box.Write("perm.txt", "to be chmodded\n");
    }

    private const int FileCount = 7;

    private static long Long(JsonElement e, string name) => e.GetProperty(name).GetInt64();

    private async Task<JsonElement> BackupAsync()
    {
        CliResult r = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(r);
        return r.Summary;
    }

    private async Task<List<JsonElement>> SnapshotsAsync()
    {
        CliResult r = await _box.Strata("snapshots", "--json");
        CliAssert.Ok(r);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static int? UnchangedSince(JsonElement e) =>
        e.TryGetProperty("unchanged_since", out JsonElement u) && u.ValueKind == JsonValueKind.Number ? u.GetInt32() : null;

    [Fact]
    public async Task An_unchanged_second_backup_reads_nothing_adds_nothing_and_is_no_new_version()
    {
        BuildTree();
        await _box.InitAsync();
        JsonElement first = await BackupAsync();
        Assert.Equal(FileCount, Long(first, "files_new"));
        Assert.Equal(1, first.GetProperty("version").GetInt32());
        Assert.Null(UnchangedSince(first));

        JsonElement second = await BackupAsync();
        Assert.True(Long(second, "files_unmodified") == FileCount, second.ToString());
        Assert.True(Long(second, "files_new") == 0, second.ToString());
        Assert.True(Long(second, "files_changed") == 0, second.ToString());
        Assert.True(Long(second, "data_added") == 0, second.ToString());
        Assert.True(Long(second, "bytes_read") == 0, second.ToString());
        // nothing changed: recorded as "unchanged since v1" rather than as a version 2
        Assert.True(second.GetProperty("version").GetInt32() == 1 && UnchangedSince(second) == 1, second.ToString());

        var snaps = await SnapshotsAsync();
        Assert.Equal(2, snaps.Count);
        Assert.All(snaps, s => Assert.Equal(1, s.GetProperty("version").GetInt32()));
        Assert.All(snaps, s => Assert.Equal(_box.Source, Assert.Single(s.GetProperty("paths").EnumerateArray()).GetString()));
        Assert.Equal(snaps[0].GetProperty("source_id").GetString(), snaps[1].GetProperty("source_id").GetString());
        string firstId = first.GetProperty("snapshot_id").GetString()!;
        JsonElement secondRow = snaps.Single(s => s.GetProperty("id").GetString() == second.GetProperty("snapshot_id").GetString());
        Assert.Equal(firstId, secondRow.GetProperty("parent").GetString());
        Assert.Equal(1, UnchangedSince(secondRow));

        // the unchanged snapshot restores like any other
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", second.GetProperty("snapshot_id").GetString()!, "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }

    [Fact]
    public async Task After_modifying_one_file_only_that_file_is_read()
    {
        BuildTree();
        await _box.InitAsync();
        await BackupAsync();
        byte[] changed = Sandbox.RandomBytes(400_000, seed: 12);
        File.WriteAllBytes(Path.Combine(_box.Source, "sub/d.bin"), changed);

        JsonElement s = await BackupAsync();
        Assert.True(s.GetProperty("version").GetInt32() == 2 && UnchangedSince(s) is null, s.ToString());
        Assert.True(Long(s, "files_changed") == 1, s.ToString());
        Assert.True(Long(s, "files_unmodified") == FileCount - 1, s.ToString());
        Assert.True(Long(s, "files_new") == 0, s.ToString());
        Assert.True(Long(s, "bytes_read") == changed.Length, $"only the modified file should be read: {s}");
        Assert.True(Long(s, "data_added") > 0 && Long(s, "data_added") <= changed.Length, s.ToString());

        var snaps = await SnapshotsAsync();
        Assert.Equal(2, snaps.Count);
        Assert.Equal([1, 2], snaps.Select(x => x.GetProperty("version").GetInt32()).Order());

        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }

    [Fact]
    public async Task Diff_marks_modified_added_removed_and_metadata_only_changes()
    {
        BuildTree();
        await _box.InitAsync();
        string first = (await BackupAsync()).GetProperty("snapshot_id").GetString()!;

        string src = _box.Source;
        File.WriteAllText(Path.Combine(src, "a.txt"), "alpha, modified\n");
        _box.Write("sub/added.txt", "new file\n");
        File.Delete(Path.Combine(src, "gone.txt"));
        Posix.Chmod(Posix.ToBytes(Path.Combine(src, "perm.txt")), Sandbox.Octal("600"));
        string second = (await BackupAsync()).GetProperty("snapshot_id").GetString()!;

        CliResult diff = await _box.Strata("diff", first[..8], second[..8]);
        CliAssert.Ok(diff);
        var marks = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in diff.StdoutLines)
        {
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && line[..space] is "+" or "-" or "M" or "U")
            {
                marks[line[space..].Trim()] = line[..space];
            }
        }
        string P(string rel) => Path.Combine(src, rel);
        Assert.True(marks.GetValueOrDefault(P("a.txt")) == "M", diff.ToString());
        Assert.True(marks.GetValueOrDefault(P("sub/added.txt")) == "+", diff.ToString());
        Assert.True(marks.GetValueOrDefault(P("gone.txt")) == "-", diff.ToString());
        Assert.True(marks.GetValueOrDefault(P("perm.txt")) == "U", diff.ToString());
        foreach (string untouched in new[] { "b.bin", "sub/c.txt", "sub/d.bin", "sub/deeper/e.txt", "sub/deeper/" })
        {
            Assert.False(marks.ContainsKey(P(untouched)), $"{untouched} did not change but diff lists it\n{diff}");
        }

        CliResult json = await _box.Strata("diff", first, second, "--json");
        CliAssert.Ok(json);
        JsonElement stats = Assert.Single(json.JsonMessages("statistics"));
        Assert.Equal(1, stats.GetProperty("added").GetInt32());
        Assert.Equal(1, stats.GetProperty("removed").GetInt32());
        Assert.Equal(1, stats.GetProperty("modified").GetInt32());
    }

    [Fact]
    public async Task Versions_of_one_source_are_numbered_and_other_sources_start_at_one()
    {
        BuildTree();
        await _box.InitAsync();
        await BackupAsync();
        _box.Write("a.txt", "changed\n");
        await BackupAsync();
        string other = Path.Combine(_box.Root, "other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "x"), "x");
        CliResult o = await _box.Strata("backup", other, "--json");
        CliAssert.Ok(o);
        Assert.Equal(1, o.Summary.GetProperty("version").GetInt32());

        var snaps = await SnapshotsAsync();
        Assert.Equal(3, snaps.Count);
        var mine = snaps.Where(s => s.GetProperty("paths")[0].GetString() == _box.Source).Select(s => s.GetProperty("version").GetInt32()).Order();
        Assert.Equal([1, 2], mine);
    }
}
