using System.Diagnostics;
using FiberManager.Core.Management;

namespace FiberManager.Workloads;

/// <summary>
/// W2 idle managed fibers (BENCHMARKS.md): K fibers through the manager (input 64, hub 64, no
/// subscribers, echo workflow), ids fiber-&lt;i&gt;; memory per parked fiber and creation time.
/// </summary>
internal static class W2
{
    public static async Task<WorkloadResult> IdleAsync(WorkloadSize size)
    {
        var k = size.N;
        await using var manager = ManagedSetup.CreateManager(k);
        await WarmUpAsync().ConfigureAwait(false);
        var ids = new string[k];

        var heapBefore = Measure.CompactedHeapBytes();
        var rssBefore = Measure.WorkingSetBytes();
        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < k; i++)
        {
            ids[i] = ManagedSetup.Id(i);
            await manager.StartAsync(ids[i], "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        }

        watch.Stop();
        var allocations = before.Since();
        var parked = await ManagedSetup.WaitAllIdleAsync(manager, ids).ConfigureAwait(false);
        var heapAfter = Measure.CompactedHeapBytes();
        var rssAfter = Measure.WorkingSetBytes();
        var stats = manager.GetStatistics();
        GC.KeepAlive(ids);

        return new WorkloadResult("w2", k, watch.Elapsed.TotalSeconds)
            .Add("create_seconds", Math.Round(watch.Elapsed.TotalSeconds, 6))
            .Add("heap_bytes_per_fiber", Math.Round((double)(heapAfter - heapBefore) / k, 1))
            .Add("rss_bytes_per_fiber", Math.Round((double)(rssAfter - rssBefore) / k, 1))
            .AddAllocations(allocations, k)
            .Check("all_parked", parked)
            .Check("all_live", stats.LiveFibers == k);
    }

    public static async Task<WorkloadResult> IdleBareAsync(WorkloadSize size)
    {
        var k = size.N;
        var registry = new BareRegistry();
        var parkedCount = 0;
        Action parked = () => Interlocked.Increment(ref parkedCount);
        await WarmUpBareAsync().ConfigureAwait(false);

        var heapBefore = Measure.CompactedHeapBytes();
        var rssBefore = Measure.WorkingSetBytes();
        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < k; i++)
        {
            var fiber = new BareFiber(ManagedSetup.Id(i));
            registry.Add(fiber);
            fiber.Start(registry, parked);
        }

        watch.Stop();
        var allocations = before.Since();
        var allParked = await Measure.WaitUntilAsync(() => Volatile.Read(ref parkedCount) == k, TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        await Task.Delay(50).ConfigureAwait(false); // the last loops reach their WaitToReadAsync
        var heapAfter = Measure.CompactedHeapBytes();
        var rssAfter = Measure.WorkingSetBytes();
        var count = registry.Count;
        GC.KeepAlive(registry);

        return new WorkloadResult("w2.bare", k, watch.Elapsed.TotalSeconds)
            .Add("create_seconds", Math.Round(watch.Elapsed.TotalSeconds, 6))
            .Add("heap_bytes_per_fiber", Math.Round((double)(heapAfter - heapBefore) / k, 1))
            .Add("rss_bytes_per_fiber", Math.Round((double)(rssAfter - rssBefore) / k, 1))
            .AddAllocations(allocations, k)
            .Check("all_parked", allParked)
            .Check("all_live", count == k);
    }

    /// <summary>W2.teardown: interrupt all K (concurrently, through the manager) and see the live registry empty.</summary>
    public static async Task<WorkloadResult> TeardownAsync(WorkloadSize size)
    {
        var k = size.N;
        await using var manager = ManagedSetup.CreateManager(k);
        await WarmUpAsync().ConfigureAwait(false);
        var ids = new string[k];
        for (var i = 0; i < k; i++)
        {
            ids[i] = ManagedSetup.Id(i);
            await manager.StartAsync(ids[i], "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        }

        var parked = await ManagedSetup.WaitAllIdleAsync(manager, ids).ConfigureAwait(false);

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var interrupts = new Task<FiberInfo>[k];
        for (var i = 0; i < k; i++)
        {
            interrupts[i] = manager.InterruptAsync(ids[i]);
        }

        var finals = await Task.WhenAll(interrupts).ConfigureAwait(false);
        var stats = manager.GetStatistics();
        watch.Stop();

        return new WorkloadResult("w2.teardown", k, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), k)
            .Check("all_parked", parked)
            .Check("registry_empty", stats.LiveFibers == 0 && stats.PermitsInUse == 0)
            .Check("all_interrupted", finals.All(f => f.Status == ManagedFiberStatus.Interrupted));
    }

    /// <summary>The bare twin of W2.teardown: cancel every CTS, await every loop, see the dictionary empty.</summary>
    public static async Task<WorkloadResult> TeardownBareAsync(WorkloadSize size)
    {
        var k = size.N;
        var registry = new BareRegistry();
        var parkedCount = 0;
        Action parked = () => Interlocked.Increment(ref parkedCount);
        for (var i = 0; i < k; i++)
        {
            var fiber = new BareFiber(ManagedSetup.Id(i));
            registry.Add(fiber);
            fiber.Start(registry, parked);
        }

        var allParked = await Measure.WaitUntilAsync(() => Volatile.Read(ref parkedCount) == k, TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        await Task.Delay(50).ConfigureAwait(false);
        var fibers = registry.All();

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        foreach (var fiber in fibers)
        {
            fiber.Cancellation.Cancel();
        }

        var loops = fibers.Select(f => f.Loop).ToArray();
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // every loop ends cancelled
        }

        var count = registry.Count;
        watch.Stop();

        return new WorkloadResult("w2.teardown.bare", k, watch.Elapsed.TotalSeconds)
            .AddAllocations(before.Since(), k)
            .Check("all_parked", allParked)
            .Check("registry_empty", count == 0)
            .Check("all_cancelled", loops.All(l => l.IsCanceled));
    }

    // A few fibers first, so the measured creation is not the JIT's first compile (both variants).
    private static async Task WarmUpAsync()
    {
        await using var manager = ManagedSetup.CreateManager(64);
        for (var i = 0; i < 64; i++)
        {
            await manager.StartAsync(ManagedSetup.Id(i), "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        }
    }

    private static async Task WarmUpBareAsync()
    {
        var registry = new BareRegistry();
        for (var i = 0; i < 64; i++)
        {
            var fiber = new BareFiber(ManagedSetup.Id(i));
            registry.Add(fiber);
            fiber.Start(registry);
        }

        foreach (var fiber in registry.All())
        {
            await fiber.Cancellation.CancelAsync().ConfigureAwait(false);
        }

        await Measure.WaitUntilAsync(() => registry.Count == 0, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }
}
