using Strata.EndToEnd.Infrastructure;
using Strata.Platform;
using Xunit.Abstractions;

namespace Strata.EndToEnd;

/// <summary>Many entries in one folder.</summary>
public sealed class LargeTreeTests(ITestOutputHelper output) : IDisposable
{
    private readonly Sandbox _box = new("large");
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    private void Phase(string what) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,7:F1}s {what}");

    public void Dispose()
    {
        _box.Dispose();
        Phase("cleanup");
    }

    [Fact]
    public async Task A_folder_of_100000_tiny_files_backs_up_and_restores_completely()
    {
        const int count = 100_000;
        string dir = Path.Combine(_box.Source, "many");
        Directory.CreateDirectory(dir);
        for (int i = 0; i < count; i++)
        {
            // tiny, mostly distinct contents; every 100th file shares its content with others (dedup inside one run)
            File.WriteAllText(Path.Combine(dir, $"f{i:D6}.txt"), i % 100 == 0 ? "shared\n" : $"file {i}\n");
        }
        Phase("created the files");
        await _box.InitAsync();
        Phase("init (and the CLI build, if the sources changed)");

        CliResult backup = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(backup);
        Assert.Equal(count, backup.Summary.GetProperty("files_new").GetInt64());

        Phase("backup");
        string target = _box.NewTarget("restore");
        CliResult restore = await _box.Strata("restore", "latest", "--target", target, "--json");
        CliAssert.Ok(restore);
        Phase("restore");
        Assert.Equal(count, restore.Summary.GetProperty("files_restored").GetInt64());

        string restoredDir = Sandbox.Restored(target, dir);
        Assert.Equal(count, Posix.ReadDirectory(Posix.ToBytes(restoredDir)).Count);
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
        Phase("compare");

        // an unchanged second run over the same 100,000 files reads none of them
        CliResult again = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(again);
        Assert.Equal(count, again.Summary.GetProperty("files_unmodified").GetInt64());
        Assert.Equal(0, again.Summary.GetProperty("data_added").GetInt64());
        Phase("second backup");
    }
}
