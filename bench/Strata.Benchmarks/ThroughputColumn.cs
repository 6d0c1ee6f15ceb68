using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Strata.Benchmarks;

/// <summary>How many input bytes one invocation of the benchmark method processes; throughput is this over the mean.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BytesPerOperationAttribute(long bytes) : Attribute
{
    public long Bytes { get; } = bytes;
}

/// <summary>
/// Adds MB/s (10^6 bytes per second of input, one thread) to BenchmarkDotNet's table, and ops/s for benchmarks
/// without <see cref="BytesPerOperationAttribute"/> (per-pack costs such as key wrapping).
/// </summary>
internal sealed class ThroughputColumn : IColumn
{
    public static readonly ThroughputColumn Instance = new();

    public string Id => nameof(ThroughputColumn);
    public string ColumnName => "Throughput";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Input processed per second on one thread: MB/s (10^6 bytes) or ops/s";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return meanNs is > 0 ? Format(BytesPerOperation(benchmarkCase), meanNs.Value) : "NA";
    }

    public static long? BytesPerOperation(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<BytesPerOperationAttribute>()?.Bytes;

    /// <summary>MB/s when the bytes per operation are known, else operations per second.</summary>
    public static string Format(long? bytesPerOperation, double meanNs) => bytesPerOperation is { } bytes
        ? (bytes * 1e3 / meanNs).ToString("N0", CultureInfo.InvariantCulture) + " MB/s"
        : (1e9 / meanNs).ToString("N0", CultureInfo.InvariantCulture) + " ops/s";

    public override string ToString() => ColumnName;
}
