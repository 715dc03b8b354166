using System.Diagnostics;
using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;

namespace FiberManager.Workloads;

/// <summary>
/// W4 interrupt (BENCHMARKS.md): K fibers parked forever in a FiberSet; time clearing them all;
/// check nothing is left running and every exit is Interrupted. The bare twins: K tasks parked
/// on their own token, cancelled, awaited — without an exception, and with one
/// OperationCanceledException per task.
/// </summary>
internal static class W4
{
    public static async Task<WorkloadResult> InterruptAsync(WorkloadSize size)
    {
        var k = size.N;
        await using var runtime = new FiberRuntime();
        var set = new FiberSet(runtime.GlobalScope);
        var parked = 0;
        Func<FiberContext, Task> body = async ctx =>
        {
            Interlocked.Increment(ref parked);
            await ctx.NeverAsync();
        };

        var fibers = new Fiber<Unit>[k];
        for (var i = 0; i < k; i++)
        {
            fibers[i] = set.Run(body);
        }

        var allParked = await Measure.WaitUntilAsync(() => Volatile.Read(ref parked) == k, TimeSpan.FromMinutes(2)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        await set.ClearAsync().ConfigureAwait(false);
        watch.Stop();

        return new WorkloadResult("w4", k, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), k)
            .Check("all_parked", allParked)
            .Check("set_empty", set.Count == 0)
            .Check("all_interrupted", fibers.All(f => f.TryGetExit(out var exit) && exit.IsInterrupted));
    }

    public static Task<WorkloadResult> CancelBareAsync(WorkloadSize size) => BareAsync("w4.bare", size, ParkQuietlyAsync);

    public static Task<WorkloadResult> CancelBareWithExceptionAsync(WorkloadSize size) => BareAsync("w4.bare.exception", size, ParkThrowingAsync);

    private static async Task<WorkloadResult> BareAsync(string name, WorkloadSize size, Func<CancellationToken, Task> park)
    {
        var k = size.N;
        var sources = new CancellationTokenSource[k];
        var tasks = new Task[k];
        var parked = 0;
        for (var i = 0; i < k; i++)
        {
            sources[i] = new CancellationTokenSource();
            var token = sources[i].Token;
            tasks[i] = Task.Run(() =>
            {
                Interlocked.Increment(ref parked);
                return park(token);
            });
        }

        var allParked = await Measure.WaitUntilAsync(() => Volatile.Read(ref parked) == k, TimeSpan.FromMinutes(2)).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        foreach (var source in sources)
        {
            source.Cancel();
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        watch.Stop();

        return new WorkloadResult(name, k, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), k)
            .Check("all_parked", allParked)
            .Check("all_done", tasks.All(t => t.IsCompletedSuccessfully));
    }

    private static async Task ParkQuietlyAsync(CancellationToken token) =>
        await Task.Delay(Timeout.Infinite, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    private static async Task ParkThrowingAsync(CancellationToken token)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // the one exception per task
        }
    }
}
