using BenchmarkDotNet.Running;
using Strata.Benchmarks;

// dotnet run -c Release --project bench/Strata.Benchmarks -- --filter '*'
// Any BenchmarkDotNet option works after "--" (--filter '*Chunker*', --inProcess, --list flat, --job dry).
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create()).ToList();
return ThroughputReport.Print(summaries, Console.Out);
