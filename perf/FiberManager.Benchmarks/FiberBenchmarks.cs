using BenchmarkDotNet.Attributes;
using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;

namespace FiberManager.Benchmarks;

/// <summary>Fork and complete a fiber; run fibers into a FiberSet (W1's hot paths).</summary>
public class FiberBenchmarks
{
    private const int Batch = 1_000;
    private static readonly Func<FiberContext, Task<int>> s_one = static _ => Task.FromResult(1);
    private FiberRuntime _runtime = null!;
    private FiberSet _set = null!;

    [GlobalSetup]
    public void Setup()
    {
        _runtime = new FiberRuntime();
        _set = new FiberSet(_runtime.GlobalScope);
    }

    [GlobalCleanup]
    public void Cleanup() => _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>One daemon fiber forked, run on the pool, joined.</summary>
    [Benchmark]
    public Task<int> ForkDaemonAndJoin() => _runtime.ForkDaemon(s_one).JoinAsync();

    /// <summary>A batch of fibers forked, then joined in order (per fiber).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task<long> ForkJoinBatch()
    {
        var fibers = new Fiber<int>[Batch];
        for (var i = 0; i < Batch; i++)
        {
            fibers[i] = _runtime.ForkDaemon(s_one);
        }

        long sum = 0;
        foreach (var fiber in fibers)
        {
            sum += await fiber.JoinAsync().ConfigureAwait(false);
        }

        return sum;
    }

    /// <summary>A batch of fibers run into a FiberSet, then await empty (per fiber).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public Task RunIntoSetBatch()
    {
        for (var i = 0; i < Batch; i++)
        {
            _set.Run(s_one);
        }

        return _set.AwaitEmptyAsync();
    }

    /// <summary>The bare twin: Task.Run a batch, then await them in order (per task).</summary>
    [Benchmark(OperationsPerInvoke = Batch, Baseline = true)]
    public async Task<long> TaskRunBatch()
    {
        var tasks = new Task<int>[Batch];
        for (var i = 0; i < Batch; i++)
        {
            tasks[i] = Task.Run(static () => 1);
        }

        long sum = 0;
        foreach (var task in tasks)
        {
            sum += await task.ConfigureAwait(false);
        }

        return sum;
    }
}
