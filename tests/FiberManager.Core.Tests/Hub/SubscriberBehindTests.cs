using Microsoft.Extensions.Time.Testing;
using FiberManager.Core.Hub;

namespace FiberManager.Core.Tests.Hub;

/// <summary>
/// <see cref="BroadcastHub{T}.HasSubscriberBehind"/>: a subscriber is behind from half its buffer
/// waiting (or a missed event) until a quarter or less waits again; a finished or disposed one
/// never is. The publisher's read loop yields on it (WorkflowInput's pacing).
/// </summary>
public sealed class SubscriberBehindTests
{
    private static BroadcastHub<int> NewHub() => new(replayCapacity: 0, subscriberBufferCapacity: 8, new FakeTimeProvider());

    [Fact]
    public void HalfTheBufferWaiting_Behind_UntilAQuarterOrLessWaits()
    {
        var hub = NewHub();
        using var subscription = hub.Subscribe();

        for (var i = 0; i < 3; i++)
        {
            hub.Publish(i);
        }

        Assert.False(hub.HasSubscriberBehind);
        hub.Publish(3);
        Assert.True(hub.HasSubscriberBehind);

        // Reading below half is not enough (hysteresis); down to a quarter is.
        Assert.True(subscription.TryRead(out _));
        Assert.True(hub.HasSubscriberBehind);
        Assert.True(subscription.TryRead(out _));
        Assert.False(hub.HasSubscriberBehind);
    }

    [Fact]
    public void MissedEvents_BehindUntilTheGapIsRead()
    {
        var hub = NewHub();
        using var subscription = hub.Subscribe();
        for (var i = 0; i < 9; i++)
        {
            hub.Publish(i);
        }

        Assert.True(hub.HasSubscriberBehind);
        var entries = subscription.Drain();
        Assert.Contains(entries, e => e.IsGap);
        Assert.False(hub.HasSubscriberBehind);
    }

    [Fact]
    public void OneOfTwoSubscribersBehind_TheHubSaysSo_DisposingItClearsIt()
    {
        var hub = NewHub();
        using var keepingUp = hub.Subscribe();
        var behind = hub.Subscribe();
        for (var i = 0; i < 4; i++)
        {
            hub.Publish(i);
            Assert.True(keepingUp.TryRead(out _));
        }

        Assert.True(hub.HasSubscriberBehind);
        behind.Dispose();
        Assert.False(hub.HasSubscriberBehind);
    }

    [Fact]
    public void TerminalItemRead_NotBehind()
    {
        var hub = NewHub();
        using var subscription = hub.Subscribe();
        for (var i = 0; i < 4; i++)
        {
            hub.Publish(i);
        }

        hub.TryComplete(99);
        Assert.True(hub.HasSubscriberBehind);
        Assert.Equal(5, subscription.Drain().Count);
        Assert.False(hub.HasSubscriberBehind);
    }
}
