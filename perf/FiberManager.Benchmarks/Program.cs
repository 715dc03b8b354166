using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// dotnet run -c Release --project perf/FiberManager.Benchmarks -- --filter '*'
//   --inprocess   run in this process (no generated project: faster to start, slightly less isolated)
//   --short       fewer iterations (a quick look, not a claim)
var inProcess = args.Contains("--inprocess");
var quick = args.Contains("--short");
args = [.. args.Where(a => a is not "--inprocess" and not "--short")];

var job = quick ? Job.ShortRun : Job.Default;
if (inProcess)
{
    job = job.WithToolchain(InProcessEmitToolchain.Instance);
}

var config = DefaultConfig.Instance
    .AddJob(job)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithOptions(ConfigOptions.DisableOptimizationsValidator);

BenchmarkSwitcher.FromAssembly(typeof(FiberManager.Benchmarks.FiberBenchmarks).Assembly).Run(args, config);
