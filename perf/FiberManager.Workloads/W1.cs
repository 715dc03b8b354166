using System.Diagnostics;
using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;

namespace FiberManager.Workloads;

/// <summary>
/// W1 fork/join throughput (BENCHMARKS.md): N trivial fibers, each returning its index.
/// Both variants first run N/100 items untimed (the same code), so that the timed part does
/// not measure the JIT; the bare twin gets exactly the same treatment.
/// </summary>
internal static class W1
{
    /// <summary>W1.set: from one parent, run N fibers into a FiberSet, then await empty.</summary>
    public static async Task<WorkloadResult> SetAsync(WorkloadSize size)
    {
        await using var runtime = new FiberRuntime();
        await RunSetAsync(runtime, Math.Max(1, size.N / 100)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var count = await RunSetAsync(runtime, size.N).ConfigureAwait(false);
        watch.Stop();
        return new WorkloadResult("w1.set", size.N, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), size.N)
            .Check("set_empty", count == 0);

        static Task<int> RunSetAsync(FiberRuntime runtime, int n) =>
            runtime.ForkDaemon(async ctx =>
            {
                var set = new FiberSet(ctx.Scope);
                for (var i = 0; i < n; i++)
                {
                    var value = i;
                    set.Run(_ => Task.FromResult(value));
                }

                await set.AwaitEmptyAsync().ConfigureAwait(false);
                var left = set.Count;
                await set.CloseAsync().ConfigureAwait(false);
                return left;
            }).JoinAsync();
    }

    /// <summary>The bare twin of W1.set: Task.Run N times, then Task.WhenAll.</summary>
    public static async Task<WorkloadResult> SetBareAsync(WorkloadSize size)
    {
        await RunAsync(Math.Max(1, size.N / 100)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var done = await RunAsync(size.N).ConfigureAwait(false);
        watch.Stop();
        return new WorkloadResult("w1.set.bare", size.N, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), size.N)
            .Check("all_done", done);

        static Task<bool> RunAsync(int n) =>
            Task.Run(async () =>
            {
                var tasks = new Task<int>[n];
                for (var i = 0; i < n; i++)
                {
                    var value = i;
                    tasks[i] = Task.Run(() => value);
                }

                await Task.WhenAll(tasks).ConfigureAwait(false);
                return tasks.All(t => t.IsCompletedSuccessfully);
            });
    }

    /// <summary>W1.forkjoin: fork N children keeping the handles, then join all in order.</summary>
    public static async Task<WorkloadResult> ForkJoinAsync(WorkloadSize size)
    {
        await using var runtime = new FiberRuntime();
        await RunAsync(runtime, Math.Max(1, size.N / 100)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var sum = await RunAsync(runtime, size.N).ConfigureAwait(false);
        watch.Stop();
        return new WorkloadResult("w1.forkjoin", size.N, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), size.N)
            .Add("checksum", sum)
            .Check("checksum", sum == (long)size.N * (size.N - 1) / 2);

        static Task<long> RunAsync(FiberRuntime runtime, int n) =>
            runtime.ForkDaemon(async ctx =>
            {
                var fibers = new Fiber<int>[n];
                for (var i = 0; i < n; i++)
                {
                    var value = i;
                    fibers[i] = ctx.Fork(_ => Task.FromResult(value));
                }

                long sum = 0;
                foreach (var fiber in fibers)
                {
                    sum += await fiber.JoinAsync().ConfigureAwait(false);
                }

                return sum;
            }).JoinAsync();
    }

    /// <summary>The bare twin of W1.forkjoin: Task.Run N times, then await each in order.</summary>
    public static async Task<WorkloadResult> ForkJoinBareAsync(WorkloadSize size)
    {
        await RunAsync(Math.Max(1, size.N / 100)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var sum = await RunAsync(size.N).ConfigureAwait(false);
        watch.Stop();
        return new WorkloadResult("w1.forkjoin.bare", size.N, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), size.N)
            .Add("checksum", sum)
            .Check("checksum", sum == (long)size.N * (size.N - 1) / 2);

        static Task<long> RunAsync(int n) =>
            Task.Run(async () =>
            {
                var tasks = new Task<int>[n];
                for (var i = 0; i < n; i++)
                {
                    var value = i;
                    tasks[i] = Task.Run(() => value);
                }

                long sum = 0;
                foreach (var task in tasks)
                {
                    sum += await task.ConfigureAwait(false);
                }

                return sum;
            });
    }
}
