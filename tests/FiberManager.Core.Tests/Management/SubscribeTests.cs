using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class SubscribeTests : ManagerTestBase
{
    /// <summary>Starts an echo fiber and publishes outputs 1..<paramref name="count"/> (sequences 1..count).</summary>
    private static async Task PublishAsync(FiberSupervisor<int, int> manager, string id, int count)
    {
        await manager.StartAsync(id, "echo", TestWorkflows.Echo()).DefaultTimeout();
        using var witness = manager.Subscribe(id);
        for (var i = 1; i <= count; i++)
        {
            await manager.SubmitAsync(id, i).DefaultTimeout();
        }

        await witness.ReadUntilAsync(e => e.Kind == FiberEventKind.Output && e.Output == count).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_LateSubscriber_GetsTheReplayWindowThenLiveEvents()
    {
        var manager = NewManager(o => o.ReplayCapacity = 3);
        await PublishAsync(manager, "f", 5);

        using var late = manager.Subscribe("f");
        var replayed = late.Drain();
        await manager.SubmitAsync("f", 6).DefaultTimeout();
        var live = await late.NextAsync().DefaultTimeout();

        Assert.Equal([3UL, 4UL, 5UL], replayed.Select(e => e.Sequence));
        Assert.Equal([3, 4, 5], replayed.Select(e => e.Output));
        Assert.All(replayed, e => Assert.Equal(FiberEventKind.Output, e.Kind));
        Assert.Equal(6UL, live.Sequence);
        Assert.Equal(6, live.Output);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Subscribe_AfterSequence_ResumesExactlyAfterIt()
    {
        var manager = NewManager();
        await PublishAsync(manager, "f", 5);

        using var resumed = manager.Subscribe("f", afterSequence: 2);
        using var caughtUp = manager.Subscribe("f", afterSequence: 5);

        Assert.Equal([3UL, 4UL, 5UL], resumed.Drain().Select(e => e.Sequence));
        Assert.Empty(caughtUp.Drain());
        await manager.SubmitAsync("f", 6).DefaultTimeout();
        Assert.Equal(6UL, (await caughtUp.NextAsync().DefaultTimeout()).Sequence);
        Assert.Equal(6UL, (await resumed.NextAsync().DefaultTimeout()).Sequence);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Subscribe_AfterSequenceOlderThanTheReplayWindow_GetsAGapFirst()
    {
        var manager = NewManager(o => o.ReplayCapacity = 3);
        await PublishAsync(manager, "f", 5);

        using var resumed = manager.Subscribe("f", afterSequence: 1);
        var events = resumed.Drain();

        var gap = events[0];
        Assert.Equal(FiberEventKind.Gap, gap.Kind);
        Assert.Equal(2UL, gap.GapFrom);
        Assert.Equal(2UL, gap.GapTo);
        Assert.Equal([3UL, 4UL, 5UL], events.Skip(1).Select(e => e.Sequence));
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Subscribe_FiberEnds_StreamEndsAfterExactlyOneTerminatedEvent()
    {
        var manager = NewManager();
        await PublishAsync(manager, "f", 2);
        using var subscription = manager.Subscribe("f");

        await manager.InterruptAsync("f").DefaultTimeout();
        var events = await subscription.ReadToEndAsync().DefaultTimeout();

        Assert.Equal([1UL, 2UL, 3UL], events.Select(e => e.Sequence));
        var terminated = events[^1];
        Assert.Equal(FiberEventKind.Terminated, terminated.Kind);
        Assert.Equal(ManagedFiberStatus.Interrupted, terminated.Status);
        Assert.Single(events, e => e.Kind == FiberEventKind.Terminated);
        Assert.False(await subscription.WaitToReadAsync().DefaultTimeout());
        Assert.False(subscription.TryRead(out _));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Subscribe_SlowSubscriber_GetsAGapWhileAFastOneGetsEverything()
    {
        var manager = NewManager(o => o.SubscriberBufferCapacity = 2);
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        using var fast = manager.Subscribe("f");
        using var slow = manager.Subscribe("f");
        var fastEvents = new List<FiberEvent<int>>();

        for (var i = 1; i <= 10; i++)
        {
            await manager.SubmitAsync("f", i).DefaultTimeout();
            fastEvents.Add(await fast.NextAsync().DefaultTimeout());
        }

        await manager.InterruptAsync("f").DefaultTimeout();
        fastEvents.AddRange(await fast.ReadToEndAsync().DefaultTimeout());
        var slowEvents = await slow.ReadToEndAsync().DefaultTimeout();

        Assert.Equal(Enumerable.Range(1, 10), fastEvents.Where(e => e.Kind == FiberEventKind.Output).Select(e => e.Output));
        Assert.DoesNotContain(fastEvents, e => e.Kind == FiberEventKind.Gap);
        Assert.Equal(FiberEventKind.Terminated, fastEvents[^1].Kind);

        Assert.Equal(4, slowEvents.Count);
        Assert.Equal([1, 2], slowEvents.Take(2).Select(e => e.Output));
        Assert.Equal(FiberEventKind.Gap, slowEvents[2].Kind);
        Assert.Equal(3UL, slowEvents[2].GapFrom);
        Assert.Equal(10UL, slowEvents[2].GapTo);
        Assert.Equal(FiberEventKind.Terminated, slowEvents[3].Kind);
        Assert.Equal(11UL, slowEvents[3].Sequence);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Subscribe_EndedRetainedFiber_ReplaysThenTheTerminatedEvent()
    {
        var manager = NewManager();
        await PublishAsync(manager, "f", 2);
        await manager.InterruptAsync("f").DefaultTimeout();

        using var everything = manager.Subscribe("f");
        using var resumed = manager.Subscribe("f", afterSequence: 2);
        var all = await everything.ReadToEndAsync().DefaultTimeout();
        var rest = await resumed.ReadToEndAsync().DefaultTimeout();

        Assert.Equal([FiberEventKind.Output, FiberEventKind.Output, FiberEventKind.Terminated], all.Select(e => e.Kind));
        Assert.Equal([1, 2], all.Take(2).Select(e => e.Output));
        var terminated = Assert.Single(rest);
        Assert.Equal(FiberEventKind.Terminated, terminated.Kind);
        Assert.Equal(3UL, terminated.Sequence);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Subscribe_Disposed_EndsTheStreamAndUnsubscribes()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        var subscription = manager.Subscribe("f");
        Assert.Equal(1, manager.GetStatus("f").Subscribers);

        var waiting = subscription.WaitToReadAsync().AsTask();
        subscription.Dispose();

        Assert.False(await waiting.DefaultTimeout());
        Assert.Equal(0, manager.GetStatus("f").Subscribers);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Subscribe_Events_CarryTheManagersClockTime()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        using var subscription = manager.Subscribe("f");
        Clock.Advance(TimeSpan.FromHours(2));

        await manager.SubmitAsync("f", 1).DefaultTimeout();

        var output = await subscription.NextAsync().DefaultTimeout();
        Assert.Equal(Clock.GetUtcNow(), output.Time);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Subscribe_UnknownFiber_ThrowsNotFound()
    {
        var manager = NewManager();
        await Task.CompletedTask;

        ThrowsCode(FiberErrorCode.NotFound, () => manager.Subscribe("nobody"));
        ThrowsCode(FiberErrorCode.InvalidFiberId, () => manager.Subscribe("nö"));
    }
}
