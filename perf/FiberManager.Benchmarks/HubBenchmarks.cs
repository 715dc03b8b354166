using BenchmarkDotNet.Attributes;
using FiberManager.Core.Hub;

namespace FiberManager.Benchmarks;

/// <summary>BroadcastHub publish with 1 / 10 / 1,000 subscribers, each drained after the publish.</summary>
public class HubBenchmarks
{
    private BroadcastHub<long> _hub = null!;
    private HubSubscription<long>[] _subscriptions = null!;
    private long _next;

    [Params(1, 10, 1_000)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _hub = new BroadcastHub<long>(replayCapacity: 64, subscriberBufferCapacity: 64, TimeProvider.System);
        _subscriptions = [.. Enumerable.Range(0, Subscribers).Select(_ => _hub.Subscribe())];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }
    }

    /// <summary>Publish one item and have every subscriber read it.</summary>
    [Benchmark]
    public long PublishAndDrain()
    {
        _hub.Publish(_next++);
        long sum = 0;
        foreach (var subscription in _subscriptions)
        {
            while (subscription.TryRead(out var entry))
            {
                sum += entry.Value;
            }
        }

        return sum;
    }

    /// <summary>Publish one item only (subscribers are drained every 32 publishes, outside the measured cost's majority).</summary>
    [Benchmark(OperationsPerInvoke = 32)]
    public void Publish32()
    {
        for (var i = 0; i < 32; i++)
        {
            _hub.Publish(_next++);
        }

        foreach (var subscription in _subscriptions)
        {
            while (subscription.TryRead(out _))
            {
            }
        }
    }
}
