using System.Globalization;
using BenchmarkDotNet.Reports;

namespace Strata.Benchmarks;

/// <summary>
/// After the run: one Markdown table "component | data | MB/s per core", printed and written beside
/// BenchmarkDotNet's own reports as throughput.md. Every benchmark runs on one thread, so its throughput is per core.
/// Data "any" marks benchmarks whose cost does not depend on content (hashing, sealing, pack writing).
/// </summary>
internal static class ThroughputReport
{
    /// <summary>Prints the table; returns the process exit code (1 when a benchmark produced no result).</summary>
    public static int Print(IReadOnlyList<Summary> summaries, TextWriter output)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        bool failed = false;
        Summary? first = summaries.FirstOrDefault(s => s.Reports.Length > 0);
        if (first is null)
        {
            return 0; // --list, --help, or a filter that matched nothing (BenchmarkDotNet says so itself)
        }
        var host = first.HostEnvironmentInfo;
        text.WriteLine($"Host: {host.Cpu.Value.ProcessorName} ({Environment.ProcessorCount} logical cores), .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        text.WriteLine();
        text.WriteLine("| component | data | MB/s per core |");
        text.WriteLine("| --- | --- | ---: |");
        foreach (BenchmarkReport report in summaries.SelectMany(s => s.Reports))
        {
            var bc = report.BenchmarkCase;
            string category = bc.Descriptor.Categories.FirstOrDefault() ?? bc.Descriptor.Type.Name;
            string component = $"{category}: {bc.Descriptor.WorkloadMethodDisplayInfo.Trim('\'')}";
            foreach (var p in bc.Parameters.Items.Where(p => p.Name != "Data"))
            {
                component += $", {p.Name.ToLowerInvariant()} {p.Value}";
            }
            string data = bc.Parameters.Items.FirstOrDefault(p => p.Name == "Data")?.Value?.ToString()?.ToLowerInvariant()
                ?? "any";
            double? meanNs = report.ResultStatistics?.Mean;
            string value = meanNs is > 0 ? ThroughputColumn.Format(ThroughputColumn.BytesPerOperation(bc), meanNs.Value) : "failed";
            failed |= meanNs is not > 0;
            text.WriteLine($"| {component} | {data} | {value.Replace(" MB/s", "", StringComparison.Ordinal)} |");
        }
        string table = text.ToString();
        output.WriteLine();
        output.Write(table);
        string path = Path.Combine(first.ResultsDirectoryPath, "throughput.md");
        File.WriteAllText(path, table);
        output.WriteLine();
        output.WriteLine($"(also written to {path})");
        return failed ? 1 : 0;
    }
}
