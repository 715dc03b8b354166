using System.Diagnostics;
using FiberManager.Core.Management;

namespace FiberManager.Workloads;

/// <summary>
/// W3 submit → output (BENCHMARKS.md): F managed fibers as in W2, one subscriber each
/// (subscribed before any input); one producer submits i = 0..M-1 to fiber i % F, awaiting
/// each submit; done when the subscribers have seen M outputs. Latency sample: i % 101 == 0,
/// from just before submit to the subscriber seeing it.
/// </summary>
/// <remarks>
/// "Hub capacity 64" is taken as both the replay window and each subscriber's buffer. The hub
/// never blocks the fiber for a slow subscriber (DESIGN.md): what overflows a buffer becomes a gap.
/// So the checks are: every input was seen or reported in a gap (and the sum of the seen outputs
/// plus the inputs the gaps stand for is M(M-1)/2), outputs arrive in order; outputs_lost_to_gaps
/// says how many were dropped (0 in the full-size runs; a starved subscriber can drop some).
/// </remarks>
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
            var fiber = j;
            consumers[j] = Task.Run(() => ConsumeAsync(subscription, fiber, f, expected, starts, latencies));
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

    /// <summary>
    /// The measurement both pingpong variants share: n / 10 pings to warm up, then n pings timed,
    /// each one's latency sampled, allocations counted over the timed pings only; the sum checked.
    /// </summary>
    private static async Task<WorkloadResult> MeasurePingsAsync(string name, int n, Func<int, long[], Task<long>> pings)
    {
        var warmUp = Math.Max(1, n / 10);
        await pings(warmUp, new long[warmUp]).ConfigureAwait(false);

        var latencies = new long[n];
        var before = Allocations.Now();
        var watch = Stopwatch.StartNew();
        var sum = await pings(n, latencies).ConfigureAwait(false);
        watch.Stop();
        var allocations = before.Since();

        return new WorkloadResult(name, n, watch.Elapsed.TotalSeconds)
            .AddLatency(latencies)
            .AddAllocations(allocations, n)
            .Check("sum", sum == (long)n * (n - 1) / 2);
    }

    /// <summary>W3.pingpong: sequential pings, each waits for its output before the next (unloaded per-hop latency).</summary>
    public static async Task<WorkloadResult> PingPongAsync(WorkloadSize size)
    {
        var n = size.N;
        await using var manager = ManagedSetup.CreateManager(1);
        const string id = "fiber-0";
        await manager.StartAsync(id, "echo", EchoWorkflow.Instance).ConfigureAwait(false);
        using var subscription = manager.Subscribe(id);
        return await MeasurePingsAsync("w3.pingpong", n, PingsAsync).ConfigureAwait(false);

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
        var result = await MeasurePingsAsync("w3.pingpong.bare", n, PingsAsync).ConfigureAwait(false);
        await fiber.Cancellation.CancelAsync().ConfigureAwait(false);
        return result;

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

    // Fiber j's k-th output (sequence k: these fibers publish nothing but outputs) is input j + (k - 1) * F,
    // so a gap's sequences map back to the inputs it stands for: every input is either seen or reported.
    private static async Task<Tally> ConsumeAsync(FiberSubscription<long> subscription, int j, int f, int expected, long[] starts, long[] latencies)
    {
        long sum = 0, seen = 0, lost = 0, outOfOrder = 0;
        while (seen + lost < expected && await subscription.WaitToReadAsync().ConfigureAwait(false))
        {
            while (subscription.TryRead(out var e))
            {
                if (e.Kind == FiberEventKind.Output)
                {
                    var value = e.Output;
                    if (value != j + ((long)e.Sequence - 1) * f)
                    {
                        outOfOrder++;
                    }

                    if (value % SampleEvery == 0)
                    {
                        latencies[value / SampleEvery] = Stopwatch.GetTimestamp() - starts[value / SampleEvery];
                    }

                    sum += value;
                    seen++;
                }
                else if (e.Kind == FiberEventKind.Gap)
                {
                    long count = (long)(e.GapTo - e.GapFrom + 1);
                    lost += count;
                    sum += (count * j) + (f * (((long)e.GapFrom - 1 + (long)e.GapTo - 1) * count / 2));
                }
            }
        }

        return new Tally(sum, seen, lost, outOfOrder);
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

        return new Tally(sum, seen, 0, 0);
    }

    private static WorkloadResult Finish(string name, WorkloadSize size, double seconds, Allocations allocations, Tally[] tallies, long[] latencies, bool parked)
    {
        long m = size.N;
        var sum = tallies.Sum(t => t.Sum);
        var seen = tallies.Sum(t => t.Seen);
        var lost = tallies.Sum(t => t.Lost);
        var outOfOrder = tallies.Sum(t => t.OutOfOrder);
        return new WorkloadResult(name, m, seconds)
            .Add("fibers", size.F)
            .AddLatency(latencies)
            .AddAllocations(allocations, m)
            .Add("outputs_seen", seen)
            .Add("outputs_lost_to_gaps", lost)
            .Check("all_parked_before", parked)
            .Check("in_order", outOfOrder == 0)
            .Check("accounted", seen + lost == m)
            .Check("sum", sum == m * (m - 1) / 2);
    }

    // Sum: of the outputs seen plus of the inputs the gaps stand for (none for the bare twin).
    private readonly record struct Tally(long Sum, long Seen, long Lost, long OutOfOrder);
}
