using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Order;

namespace Strata.Benchmarks;

/// <summary>
/// One short job for every benchmark: each operation already processes 64 MiB, so five measured iterations
/// give a usable mean, and the whole suite runs in a few minutes on a 2-core machine. Options given on the
/// command line (--iterationCount, --job, --inProcess, ...) override these.
/// </summary>
internal static class BenchConfig
{
    public static IConfig Create() => DefaultConfig.Instance
        .AddJob(Job.Default
            .WithLaunchCount(1)
            .WithWarmupCount(2)
            .WithIterationCount(5)
            .AsDefault())
        .AddColumn(ThroughputColumn.Instance)
        .AddColumn(CategoriesColumn.Default)
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory)
        .WithOrderer(new DefaultOrderer(SummaryOrderPolicy.Declared))
        .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"))
        .WithOptions(ConfigOptions.JoinSummary);
}
