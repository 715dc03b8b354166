using System.Diagnostics;
using FiberManager.Core.Management;

namespace FiberManager.Workloads;

/// <summary>
/// W3 submit → output (BENCHMARKS.md): F managed fibers as in W2, one subscriber each
/// (subscribed before any input); one producer submits i = 0..M-1 to fiber i % F, awaiting
/// each submit; done when the subscribers have seen M outputs. Latency sample: i % 101 == 0,
/// from just before submit to the subscriber seeing it.
/// </summary>
internal static class W3
{
    private const int SampleEvery = 101;

    public static async Task<WorkloadResult> SubmitAsync(WorkloadSize size)
    {
        int f = size.F, m = size.N;
        await using var manager = ManagedSetup.CreateManager(f);
        var ids = Enumerable.Range(0, f).Select(ManagedSetup.Id).ToArray();
        foreach (var id in ids)
        {
            await manager.StartAsync(id, "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        }

        var parked = await ManagedSetup.WaitAllIdleAsync(manager, ids).ConfigureAwait(false);
        var subscriptions = ids.Select(id => manager.Subscribe(id)).ToArray();
        var starts = new long[(m / SampleEvery) + 1];
        var latencies = new long[starts.Length];

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var consumers = new Task<Tally>[f];
        for (var j = 0; j < f; j++)
        {
            var subscription = subscriptions[j];
            var expected = Expected(m, f, j);
            consumers[j] = Task.Run(() => ConsumeAsync(subscription, expected, starts, latencies));
        }

        for (var i = 0; i < m; i++)
        {
            if (i % SampleEvery == 0)
            {
                starts[i / SampleEvery] = Stopwatch.GetTimestamp();
            }

            await manager.SubmitAsync(ids[i % f], i).ConfigureAwait(false);
        }

        var tallies = await Task.WhenAll(consumers).ConfigureAwait(false);
        watch.Stop();
        var allocations = before.Since();
        foreach (var subscription in subscriptions)
        {
            subscription.Dispose();
        }

        return Finish("w3", size, watch.Elapsed.TotalSeconds, allocations, tallies, latencies, parked);
    }

    public static async Task<WorkloadResult> SubmitBareAsync(WorkloadSize size)
    {
        int f = size.F, m = size.N;
        var registry = new BareRegistry();
        var ids = Enumerable.Range(0, f).Select(ManagedSetup.Id).ToArray();
        foreach (var id in ids)
        {
            var fiber = new BareFiber(id);
            registry.Add(fiber);
            fiber.Start(registry);
        }

        var starts = new long[(m / SampleEvery) + 1];
        var latencies = new long[starts.Length];

        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var consumers = new Task<Tally>[f];
        for (var j = 0; j < f; j++)
        {
            var outbox = registry.Get(ids[j]).Outbox.Reader;
            var expected = Expected(m, f, j);
            consumers[j] = Task.Run(() => ConsumeBareAsync(outbox, expected, starts, latencies));
        }

        for (var i = 0; i < m; i++)
        {
            if (i % SampleEvery == 0)
            {
                starts[i / SampleEvery] = Stopwatch.GetTimestamp();
            }

            await registry.Get(ids[i % f]).Inbox.Writer.WriteAsync(i).ConfigureAwait(false);
        }

        var tallies = await Task.WhenAll(consumers).ConfigureAwait(false);
        watch.Stop();
        var allocations = before.Since();
        foreach (var fiber in registry.All())
        {
            await fiber.Cancellation.CancelAsync().ConfigureAwait(false);
        }

        return Finish("w3.bare", size, watch.Elapsed.TotalSeconds, allocations, tallies, latencies, parked: true);
    }

    /// <summary>W3.pingpong: sequential pings, each waits for its output before the next (unloaded per-hop latency).</summary>
    public static async Task<WorkloadResult> PingPongAsync(WorkloadSize size)
    {
        var n = size.N;
        await using var manager = ManagedSetup.CreateManager(1);
        const string id = "fiber-0";
        await manager.StartAsync(id, "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        using var subscription = manager.Subscribe(id);
        await PingsAsync(Math.Max(1, n / 10), new long[Math.Max(1, n / 10)]).ConfigureAwait(false); // warm-up

        var latencies = new long[n];
        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var sum = await PingsAsync(n, latencies).ConfigureAwait(false);
        watch.Stop();

        return new WorkloadResult("w3.pingpong", n, watch.Elapsed.TotalSeconds)
            .AddLatency(latencies)
            .AddAllocations(before.Since(), n)
            .Check("sum", sum == (long)n * (n - 1) / 2);

        async Task<long> PingsAsync(int count, long[] samples)
        {
            long sum = 0;
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await manager.SubmitAsync(id, i).ConfigureAwait(false);
                while (true)
                {
                    if (subscription.TryRead(out var e))
                    {
                        if (e.Kind == FiberEventKind.Output)
                        {
                            sum += e.Output;
                            break;
                        }

                        continue;
                    }

                    await subscription.WaitToReadAsync().ConfigureAwait(false);
                }

                samples[i] = Stopwatch.GetTimestamp() - start;
            }

            return sum;
        }
    }

    public static async Task<WorkloadResult> PingPongBareAsync(WorkloadSize size)
    {
        var n = size.N;
        var registry = new BareRegistry();
        var fiber = new BareFiber("fiber-0");
        registry.Add(fiber);
        fiber.Start(registry);
        await PingsAsync(Math.Max(1, n / 10), new long[Math.Max(1, n / 10)]).ConfigureAwait(false); // warm-up

        var latencies = new long[n];
        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var sum = await PingsAsync(n, latencies).ConfigureAwait(false);
        watch.Stop();
        await fiber.Cancellation.CancelAsync().ConfigureAwait(false);

        return new WorkloadResult("w3.pingpong.bare", n, watch.Elapsed.TotalSeconds)
            .AddLatency(latencies)
            .AddAllocations(before.Since(), n)
            .Check("sum", sum == (long)n * (n - 1) / 2);

        async Task<long> PingsAsync(int count, long[] samples)
        {
            long sum = 0;
            for (var i = 0; i < count; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await registry.Get("fiber-0").Inbox.Writer.WriteAsync(i).ConfigureAwait(false);
                sum += await fiber.Outbox.Reader.ReadAsync().ConfigureAwait(false);
                samples[i] = Stopwatch.GetTimestamp() - start;
            }

            return sum;
        }
    }

    private static int Expected(int m, int f, int j) => (m / f) + (j < m % f ? 1 : 0);

    private static async Task<Tally> ConsumeAsync(FiberSubscription<long> subscription, int expected, long[] starts, long[] latencies)
    {
        long sum = 0, seen = 0, lost = 0;
        while (seen + lost < expected && await subscription.WaitToReadAsync().ConfigureAwait(false))
        {
            while (subscription.TryRead(out var e))
            {
                if (e.Kind == FiberEventKind.Output)
                {
                    var value = e.Output;
                    if (value % SampleEvery == 0)
                    {
                        latencies[value / SampleEvery] = Stopwatch.GetTimestamp() - starts[value / SampleEvery];
                    }

                    sum += value;
                    seen++;
                }
                else if (e.Kind == FiberEventKind.Gap)
                {
                    lost += (long)(e.GapTo - e.GapFrom + 1);
                }
            }
        }

        return new Tally(sum, seen, lost);
    }

    private static async Task<Tally> ConsumeBareAsync(System.Threading.Channels.ChannelReader<long> outbox, int expected, long[] starts, long[] latencies)
    {
        long sum = 0, seen = 0;
        while (seen < expected && await outbox.WaitToReadAsync().ConfigureAwait(false))
        {
            while (outbox.TryRead(out var value))
            {
                if (value % SampleEvery == 0)
                {
                    latencies[value / SampleEvery] = Stopwatch.GetTimestamp() - starts[value / SampleEvery];
                }

                sum += value;
                seen++;
            }
        }

        return new Tally(sum, seen, 0);
    }

    private static WorkloadResult Finish(string name, WorkloadSize size, double seconds, Allocations allocations, Tally[] tallies, long[] latencies, bool parked)
    {
        long m = size.N;
        var sum = tallies.Sum(t => t.Sum);
        var seen = tallies.Sum(t => t.Seen);
        var lost = tallies.Sum(t => t.Lost);
        return new WorkloadResult(name, m, seconds)
            .Add("fibers", size.F)
            .AddLatency(latencies)
            .AddAllocations(allocations, m)
            .Add("outputs_seen", seen)
            .Add("outputs_lost_to_gaps", lost)
            .Check("all_parked_before", parked)
            .Check("no_gaps", lost == 0)
            .Check("sum", sum == m * (m - 1) / 2);
    }

    private readonly record struct Tally(long Sum, long Seen, long Lost);
}
