using BenchmarkDotNet.Running;
using Strata.Benchmarks;

// dotnet run -c Release --project bench/Strata.Benchmarks -- --filter '*'
// dotnet run -c Release --project bench/Strata.Benchmarks -- index-memory   (bytes per blob the index keeps)
// Any BenchmarkDotNet option works after "--" (--filter '*Chunker*', --inProcess, --list flat, --job dry).
if (args is ["index-memory"])
{
    IndexBenchmarks.PrintMemory(Console.Out);
    return 0;
}
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create()).ToList();
return ThroughputReport.Print(summaries, Console.Out);
