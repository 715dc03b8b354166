using System.Collections.Concurrent;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class ConcurrencyLimitTests : ManagerTestBase
{
    [Fact]
    public async Task SetConcurrencyLimit_Grow_StartsQueuedFibersAtOnceInFifoOrder()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var probes = new Dictionary<string, ProbeWorkflow>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            probes[id] = new ProbeWorkflow();
            await manager.StartAsync(id, "probe", probes[id], new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
        }

        manager.SetConcurrencyLimit(2);
        await probes["a"].Started.Task.DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("b").Status);
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("c").Status);
        Assert.Equal(2, manager.GetStatistics().PermitLimit);

        manager.SetConcurrencyLimit(4);
        await probes["b"].Started.Task.DefaultTimeout();
        await probes["c"].Started.Task.DefaultTimeout();

        var statistics = manager.GetStatistics();
        Assert.Equal(4, statistics.PermitLimit);
        Assert.Equal(0, statistics.PendingFibers);
        Assert.Equal(0, statistics.PermitWaiters);
        manager.AssertSettled(4);
    }

    [Fact]
    public async Task SetConcurrencyLimit_Shrink_TakesEffectAsFibersEnd()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 3);
        foreach (var id in new[] { "r1", "r2", "r3" })
        {
            await manager.StartAsync(id, "probe", new ProbeWorkflow()).DefaultTimeout();
        }

        var queued = new ProbeWorkflow();
        await manager.StartAsync("q", "probe", queued, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();

        manager.SetConcurrencyLimit(1);
        Assert.Equal(1, manager.GetStatistics().PermitLimit);
        manager.AssertSettled(3);

        await manager.InterruptAsync("r1").DefaultTimeout();
        Assert.Equal(1, manager.GetStatistics().PermitWaiters);
        manager.AssertSettled(2);

        await manager.InterruptAsync("r2").DefaultTimeout();
        Assert.Equal(1, manager.GetStatistics().PermitWaiters);
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("q").Status);
        manager.AssertSettled(1);

        await manager.InterruptAsync("r3").DefaultTimeout();
        await queued.Started.Task.DefaultTimeout();
        Assert.Equal(0, manager.GetStatistics().PermitWaiters);
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().PendingFibers == 0, "q has started");
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task SetConcurrencyLimit_Shrunk_RejectsUntilBelowTheNewLimit()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 2);
        await manager.StartAsync("r1", "probe", new ProbeWorkflow()).DefaultTimeout();
        manager.SetConcurrencyLimit(1);

        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => manager.StartAsync("r2", "probe", new ProbeWorkflow(), new StartOptions { Admission = AdmissionMode.Reject }));
        await manager.InterruptAsync("r1").DefaultTimeout();
        Assert.True((await manager.StartAsync("r2", "probe", new ProbeWorkflow(), new StartOptions { Admission = AdmissionMode.Reject }).DefaultTimeout()).Created);
        manager.AssertSettled(1);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task SetConcurrencyLimit_BelowOne_ThrowsInvalidArgument(int limit)
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 3);
        await Task.CompletedTask;

        ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.SetConcurrencyLimit(limit));
        Assert.Equal(3, manager.GetStatistics().PermitLimit);
    }

    [Fact]
    public async Task Permits_ManyQueuedFibers_NeverMoreRunningThanTheLimit()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 3);
        var running = 0;
        var maxRunning = 0;
        var finished = new ConcurrentQueue<string>();
        for (var i = 0; i < 20; i++)
        {
            var probe = new ProbeWorkflow(async ctx =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref maxRunning, now);
                await Task.Yield();
                Interlocked.Decrement(ref running);
                finished.Enqueue(ctx.FiberId);
            });
            await manager.StartAsync($"f{i:D2}", "probe", probe, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
        }

        await TestTimeouts.UntilAsync(() => manager.GetStatistics() is { LiveFibers: 0, RetainedFibers: 20 }, "all fibers ended");

        Assert.InRange(maxRunning, 1, 3);
        Assert.Equal(20, finished.Count);
        manager.AssertSettled(0);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
