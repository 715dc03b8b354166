using FiberManager.Core.Hub;
using Xunit.Abstractions;

namespace FiberManager.Core.Tests.Hub;

/// <summary>
/// Allocation and size checks. These are guards against regressions (a per-publish allocation, a hub
/// that allocates eagerly), not speed claims: those belong to the benchmarks.
/// </summary>
[Collection(nameof(HubExclusiveCollection))]
public sealed class BroadcastHubAllocationTests(ITestOutputHelper output)
{
    private const int Pairs = 10_000;

    [Fact]
    public void PublishAndTryRead_WithOneSubscriber_DoNotAllocateInSteadyState()
    {
        var hub = new BroadcastHub<object>(replayCapacity: 64, subscriberBufferCapacity: 64, TimeProvider.System);
        using HubSubscription<object> subscription = hub.Subscribe();
        object value = new();
        RunPairs(hub, subscription, value); // warm-up: the replay ring grows to 64, the subscriber ring to 4

        long before = GC.GetAllocatedBytesForCurrentThread();
        RunPairs(hub, subscription, value);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        output.WriteLine($"{allocated} bytes for {Pairs} publish + TryRead pairs ({(double)allocated / Pairs:F3} B/pair)");
        Assert.True(allocated <= 512, $"{allocated} bytes allocated for {Pairs} publish + TryRead pairs.");
    }

    [Fact]
    public void Publish_WithAFixedSetOfSubscribersSomeOverflowing_DoesNotAllocateInSteadyState()
    {
        var hub = new BroadcastHub<object>(replayCapacity: 64, subscriberBufferCapacity: 16, TimeProvider.System);
        using HubSubscription<object> reader = hub.Subscribe();
        using HubSubscription<object> neverReads = hub.Subscribe();
        using HubSubscription<object> readsSometimes = hub.Subscribe();
        object value = new();

        void Run()
        {
            for (int i = 0; i < Pairs; i++)
            {
                hub.Publish(value);
                reader.TryRead(out _);
                if (i % 37 == 0)
                {
                    while (readsSometimes.TryRead(out _))
                    {
                    }
                }
            }
        }

        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        output.WriteLine($"{allocated} bytes for {Pairs} publishes to 3 subscribers (2 overflowing)");
        Assert.True(allocated <= 512, $"{allocated} bytes allocated for {Pairs} publishes.");
        Assert.Equal(17, neverReads.Count); // 16 items and one gap
    }

    [Fact]
    public async Task ParkedReaderPingPong_DoesNotAllocatePerRoundTrip()
    {
        // Two hubs and two async loops: each publish wakes a parked reader (the W3 hot path). Process-wide
        // figure, so it includes the thread pool's own work; it must stay far below one allocation per hop.
        const int RoundTrips = 10_000;
        var ping = new BroadcastHub<object>(replayCapacity: 64, subscriberBufferCapacity: 64, TimeProvider.System);
        var pong = new BroadcastHub<object>(replayCapacity: 64, subscriberBufferCapacity: 64, TimeProvider.System);
        using HubSubscription<object> pingReader = ping.Subscribe();
        using HubSubscription<object> pongReader = pong.Subscribe();
        object value = new();

        Task echo = Task.Run(async () =>
        {
            while (await pingReader.WaitToReadAsync())
            {
                while (pingReader.TryRead(out HubEntry<object> entry))
                {
                    if (entry.IsTerminal)
                    {
                        return;
                    }

                    pong.Publish(value);
                }
            }
        });

        async Task<long> RunAsync(int count)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < count; i++)
            {
                ping.Publish(value);
                while (!pongReader.TryRead(out _))
                {
                    await pongReader.WaitToReadAsync();
                }
            }

            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        long allocated = await Task.Run(async () =>
        {
            await RunAsync(RoundTrips);
            return await RunAsync(RoundTrips);
        }).WithTimeout(TimeSpan.FromSeconds(60));
        ping.TryComplete(value);
        await echo.WithTimeout();

        output.WriteLine($"{allocated} bytes process-wide for {RoundTrips} round trips ({(double)allocated / RoundTrips:F2} B/round trip, 2 wakes each)");
        Assert.True(allocated / RoundTrips < 24, $"{allocated} bytes for {RoundTrips} round trips.");
    }

    [Fact]
    public void IdleHub_CostsOnlyItsFieldsAndItsLock()
    {
        const int Hubs = 10_000;
        _ = new BroadcastHub<object>(64, 64, TimeProvider.System); // JIT and statics first

        var hubs = new BroadcastHub<object>[Hubs];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Hubs; i++)
        {
            hubs[i] = new BroadcastHub<object>(64, 64, TimeProvider.System);
        }

        long allocatedPerHub = (GC.GetAllocatedBytesForCurrentThread() - before) / Hubs;
        GC.KeepAlive(hubs);

        var retained = new BroadcastHub<object>[Hubs];
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < Hubs; i++)
        {
            retained[i] = new BroadcastHub<object>(64, 64, TimeProvider.System);
        }

        long heapPerHub = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / Hubs;
        GC.KeepAlive(retained);

        output.WriteLine($"idle hub: {allocatedPerHub} B allocated per hub (this thread), {heapPerHub} B per hub by GC.GetTotalMemory over {Hubs}");
        Assert.True(allocatedPerHub <= 192, $"An idle hub allocates {allocatedPerHub} bytes.");
    }

    private static void RunPairs(BroadcastHub<object> hub, HubSubscription<object> subscription, object value)
    {
        for (int i = 0; i < Pairs; i++)
        {
            hub.Publish(value);
            subscription.TryRead(out _);
        }
    }
}
