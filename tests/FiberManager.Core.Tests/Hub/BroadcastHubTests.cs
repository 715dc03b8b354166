using FiberManager.Core.Hub;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests.Hub;

public sealed class BroadcastHubTests
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(0, 0)]
    [InlineData(4, -3)]
    public void Constructor_CapacityOutOfRange_Throws(int replayCapacity, int bufferCapacity)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BroadcastHub<int>(replayCapacity, bufferCapacity, TimeProvider.System));
    }

    [Fact]
    public void Constructor_NullTimeProvider_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => new BroadcastHub<int>(0, 1, null!));
    }

    [Fact]
    public void Constructor_ValidArguments_StartsEmpty()
    {
        var hub = new BroadcastHub<int>(0, 1, TimeProvider.System);

        Assert.Equal(0UL, hub.LastSequence);
        Assert.Equal(0, hub.SubscriberCount);
        Assert.False(hub.IsCompleted);
        Assert.Equal(0, hub.ReplayCapacity);
        Assert.Equal(1, hub.SubscriberBufferCapacity);
    }

    [Fact]
    public void Publish_SequencesStartAtOneAndAreContiguous_TimesComeFromTheClock()
    {
        var clock = new FakeTimeProvider(s_start);
        var hub = new BroadcastHub<string>(replayCapacity: 8, subscriberBufferCapacity: 8, clock);
        using HubSubscription<string> subscription = hub.Subscribe();

        var sequences = new List<ulong>();
        for (int i = 0; i < 5; i++)
        {
            sequences.Add(hub.Publish($"v{i}"));
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal([1UL, 2, 3, 4, 5], sequences);
        Assert.Equal(5UL, hub.LastSequence);
        Assert.True(hub.TryPublish("v5", out ulong sixth));
        Assert.Equal(6UL, sixth);

        List<HubEntry<string>> entries = subscription.Drain();
        Assert.Equal(6, entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            Assert.Equal((ulong)(i + 1), entries[i].Sequence);
            Assert.Equal($"v{i}", entries[i].Value);
            Assert.Equal(s_start.AddSeconds(i), entries[i].Time);
            Assert.False(entries[i].IsGap);
            Assert.False(entries[i].IsTerminal);
            Assert.Equal(0UL, entries[i].GapFrom);
            Assert.Equal(0UL, entries[i].GapTo);
        }
    }

    [Fact]
    public void Publish_WithoutSubscribersOrReplay_StillNumbersItems()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 1, TimeProvider.System);

        Assert.Equal(1UL, hub.Publish(10));
        Assert.Equal(2UL, hub.Publish(20));
        Assert.Equal(2UL, hub.LastSequence);
    }

    [Fact]
    public void Publish_FansOutToEverySubscriber()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 16, new FakeTimeProvider());
        HubSubscription<int>[] subscriptions = [hub.Subscribe(), hub.Subscribe(), hub.Subscribe()];
        Assert.Equal(3, hub.SubscriberCount);

        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i * 100);
        }

        foreach (HubSubscription<int> subscription in subscriptions)
        {
            List<HubEntry<int>> entries = subscription.Drain();
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), entries.Select(e => e.Sequence));
            Assert.Equal(Enumerable.Range(1, 10).Select(i => i * 100), entries.Select(e => e.Value));
            subscription.Dispose();
        }

        Assert.Equal(0, hub.SubscriberCount);
    }

    [Fact]
    public void SlowSubscriber_GetsOneMergedGapWithTheRightRange_WhileFastSubscriberGetsEverything()
    {
        var clock = new FakeTimeProvider(s_start);
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, clock);
        using HubSubscription<int> fast = hub.Subscribe();
        using HubSubscription<int> slow = hub.Subscribe();
        var fastEntries = new List<HubEntry<int>>();

        for (int i = 1; i <= 10; i++)
        {
            clock.SetUtcNow(s_start.AddMinutes(i));
            hub.Publish(i);
            fastEntries.AddRange(fast.Drain());
        }

        // 1..4 fit, 5..10 were dropped for the slow subscriber only: one gap, detected when #5 was dropped.
        Assert.Equal(5, slow.Count);
        List<HubEntry<int>> slowEntries = slow.Drain();
        Assert.Equal("1 2 3 4 [5-10]", slowEntries.Describe());
        HubEntry<int> gap = slowEntries[^1];
        Assert.True(gap.IsGap);
        Assert.Equal(5UL, gap.GapFrom);
        Assert.Equal(10UL, gap.GapTo);
        Assert.Equal(10UL, gap.Sequence);
        Assert.Equal(default, gap.Value);
        Assert.Equal(s_start.AddMinutes(5), gap.Time);
        Assert.False(gap.IsTerminal);

        Assert.Equal("1 2 3 4 5 6 7 8 9 10", fastEntries.Describe());

        // After reading the gap the slow subscriber receives live items again.
        hub.Publish(11);
        Assert.Equal("11", slow.Drain().Describe());
    }

    [Fact]
    public void Gap_IsReadAfterBufferedItemsAndBeforeLaterOnes()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 2, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();

        hub.Publish(1);
        hub.Publish(2);
        hub.Publish(3); // dropped: gap [3-3]
        Assert.True(subscription.TryRead(out HubEntry<int> first));
        Assert.Equal(1UL, first.Sequence);
        hub.Publish(4); // room again: buffered after the gap

        Assert.Equal("2 [3-3] 4", subscription.Drain().Describe());
    }

    [Fact]
    public void Drop_WhileAGapIsPending_ExtendsThatGapOverItemsBufferedAfterIt()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 2, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();

        hub.Publish(1);
        hub.Publish(2);
        hub.Publish(3); // dropped: gap [3-3]
        Assert.True(subscription.TryRead(out _)); // reads 1
        hub.Publish(4); // buffered after the gap: [2, 4]
        hub.Publish(5); // full again: 4 and 5 join the pending gap, which stays one range: [2] [3-5]
        Assert.Equal(2, subscription.Count);
        hub.Publish(6); // room again (4 left the buffer): [2] [3-5] 6
        Assert.Equal(3, subscription.Count);
        hub.Publish(7); // full: 6 and 7 join the gap: [2] [3-7]
        Assert.Equal(2, subscription.Count);

        Assert.Equal("2 [3-7]", subscription.Drain().Describe());
        hub.Publish(8);
        Assert.Equal("8", subscription.Drain().Describe());
    }

    [Fact]
    public void Complete_DeliversTheTerminalItemThroughAFullBuffer()
    {
        var hub = new BroadcastHub<string>(replayCapacity: 0, subscriberBufferCapacity: 2, new FakeTimeProvider());
        using HubSubscription<string> subscription = hub.Subscribe();
        hub.Publish("a");
        hub.Publish("b");
        hub.Publish("c"); // dropped

        Assert.True(hub.TryComplete("end", out ulong terminalSequence));
        Assert.Equal(4UL, terminalSequence);
        Assert.True(hub.IsCompleted);

        List<HubEntry<string>> entries = subscription.Drain();
        Assert.Equal("1 2 [3-3] 4T", entries.Describe());
        Assert.Equal("end", entries[^1].Value);
        Assert.True(entries[^1].IsTerminal);
        Assert.True(subscription.IsFinished);
    }

    [Fact]
    public void Complete_WithAFullBufferAndNoGap_ExceedsCapacityByOne()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 3, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        hub.Publish(1);
        hub.Publish(2);
        hub.Publish(3);

        Assert.True(hub.TryComplete(4));

        Assert.Equal(4, subscription.Count);
        Assert.Equal("1 2 3 4T", subscription.Drain().Describe());
    }

    [Fact]
    public async Task Complete_WakesAParkedReader()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 2, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        Task<List<HubEntry<int>>> reader = subscription.ReadToEndAsync();

        hub.TryComplete(-1);

        Assert.Equal("1T", (await reader.WithTimeout()).Describe());
    }

    [Fact]
    public void TryComplete_Twice_ReturnsFalseAndPublishesNothing()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 4, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();

        Assert.True(hub.TryComplete(1));
        Assert.False(hub.TryComplete(2));
        Assert.False(hub.TryComplete(3, out ulong sequence));

        Assert.Equal(0UL, sequence);
        Assert.Equal(1UL, hub.LastSequence);
        Assert.Equal("1T", subscription.Drain().Describe());
    }

    [Fact]
    public void Publish_AfterComplete_Fails()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 4, subscriberBufferCapacity: 4, new FakeTimeProvider());
        hub.Publish(1);
        hub.TryComplete(2);

        Assert.Throws<InvalidOperationException>(() => hub.Publish(3));
        Assert.False(hub.TryPublish(3, out ulong sequence));
        Assert.Equal(0UL, sequence);
        Assert.Equal(2UL, hub.LastSequence);
    }

    [Fact]
    public void Subscribe_AfterZero_ReplaysTheRetainedWindowWithoutAGap_ThenLive()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 3, subscriberBufferCapacity: 8, new FakeTimeProvider());
        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i);
        }

        using HubSubscription<int> late = hub.Subscribe(afterSequence: 0);
        Assert.Equal("8 9 10", late.Drain().Describe());

        hub.Publish(11);
        Assert.Equal("11", late.Drain().Describe());
    }

    [Fact]
    public void Subscribe_AfterZeroOnAFreshHub_IsLive()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 3, subscriberBufferCapacity: 8, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();

        Assert.Empty(subscription.Drain());
        hub.Publish(1);
        Assert.Equal("1", subscription.Drain().Describe());
    }

    [Fact]
    public void Subscribe_AfterN_ReportsTheEvictedRangeAsAGap_DetectedAtSubscribeTime()
    {
        var clock = new FakeTimeProvider(s_start);
        var hub = new BroadcastHub<int>(replayCapacity: 3, subscriberBufferCapacity: 8, clock);
        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i);
        }

        clock.SetUtcNow(s_start.AddHours(1));
        using HubSubscription<int> resumed = hub.Subscribe(afterSequence: 2);
        List<HubEntry<int>> entries = resumed.Drain();

        Assert.Equal("[3-7] 8 9 10", entries.Describe());
        Assert.Equal(s_start.AddHours(1), entries[0].Time);
        Assert.Equal(s_start, entries[1].Time);
    }

    [Fact]
    public void Subscribe_AfterNWithinTheWindow_ReplaysOnlyLaterItems()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 3, subscriberBufferCapacity: 8, new FakeTimeProvider());
        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i);
        }

        using HubSubscription<int> atOldestMinusOne = hub.Subscribe(afterSequence: 7);
        using HubSubscription<int> inside = hub.Subscribe(afterSequence: 8);

        Assert.Equal("8 9 10", atOldestMinusOne.Drain().Describe());
        Assert.Equal("9 10", inside.Drain().Describe());
    }

    [Fact]
    public void Subscribe_AfterNWithoutReplay_ReportsEverythingSinceNAsAGap()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 8, new FakeTimeProvider());
        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i);
        }

        using HubSubscription<int> resumed = hub.Subscribe(afterSequence: 4);
        using HubSubscription<int> fromZero = hub.Subscribe(afterSequence: 0);
        hub.Publish(11);

        Assert.Equal("[5-10] 11", resumed.Drain().Describe());
        Assert.Equal("11", fromZero.Drain().Describe());
    }

    [Theory]
    [InlineData(10UL)]
    [InlineData(11UL)]
    [InlineData(ulong.MaxValue)]
    public void Subscribe_AtOrPastTheLastSequence_IsLiveOnly(ulong afterSequence)
    {
        var hub = new BroadcastHub<int>(replayCapacity: 3, subscriberBufferCapacity: 8, new FakeTimeProvider());
        for (int i = 1; i <= 10; i++)
        {
            hub.Publish(i);
        }

        using HubSubscription<int> live = hub.Subscribe(afterSequence);
        Assert.Empty(live.Drain());

        hub.Publish(11);
        Assert.Equal("11", live.Drain().Describe());
    }

    [Theory]
    [InlineData(3, 0UL, "4 5 6T")]
    [InlineData(3, 1UL, "[2-3] 4 5 6T")]
    [InlineData(3, 4UL, "5 6T")]
    [InlineData(3, 5UL, "6T")]
    [InlineData(0, 0UL, "6T")]
    [InlineData(0, 2UL, "[3-5] 6T")]
    [InlineData(0, 5UL, "6T")]
    [InlineData(1, 0UL, "6T")]
    [InlineData(1, 3UL, "[4-5] 6T")]
    public async Task Subscribe_AfterCompletion_ReplaysUpToTheTerminalItem_ThenEnds(int replayCapacity, ulong afterSequence, string expected)
    {
        var hub = new BroadcastHub<int>(replayCapacity, subscriberBufferCapacity: 2, new FakeTimeProvider());
        for (int i = 1; i <= 5; i++)
        {
            hub.Publish(i);
        }

        hub.TryComplete(-1);

        using HubSubscription<int> late = hub.Subscribe(afterSequence);
        List<HubEntry<int>> entries = await late.ReadToEndAsync();

        Assert.Equal(expected, entries.Describe());
        Assert.Equal(-1, entries[^1].Value);
        Assert.False(await late.WaitToReadAsync().WithTimeout());
        Assert.True(late.IsFinished);
    }

    [Theory]
    [InlineData(3, 6UL)]
    [InlineData(0, 6UL)]
    [InlineData(3, 100UL)]
    public async Task Subscribe_AtOrPastTheTerminalItem_HasAlreadyEnded(int replayCapacity, ulong afterSequence)
    {
        var hub = new BroadcastHub<int>(replayCapacity, subscriberBufferCapacity: 2, new FakeTimeProvider());
        for (int i = 1; i <= 5; i++)
        {
            hub.Publish(i);
        }

        hub.TryComplete(-1);

        using HubSubscription<int> late = hub.Subscribe(afterSequence);

        Assert.True(late.IsFinished);
        Assert.False(late.TryRead(out _));
        Assert.False(await late.WaitToReadAsync().WithTimeout());
        Assert.Empty(await late.ReadToEndAsync());
    }

    [Fact]
    public void ReplayLargerThanTheBuffer_ReplaysTheWholeWindow_ThenDropsLiveItemsUntilDrained()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 6, subscriberBufferCapacity: 2, new FakeTimeProvider());
        for (int i = 1; i <= 6; i++)
        {
            hub.Publish(i);
        }

        using HubSubscription<int> late = hub.Subscribe();
        hub.Publish(7); // the replayed backlog (6) is above the buffer capacity (2): dropped
        for (int i = 0; i < 5; i++)
        {
            Assert.True(late.TryRead(out _));
        }

        hub.Publish(8); // one buffered item left: room again

        Assert.Equal("6 [7-7] 8", late.Drain().Describe());
    }

    [Fact]
    public void ReplayWindow_GrowsLazilyAndWraps()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 100, subscriberBufferCapacity: 1, new FakeTimeProvider());
        for (int i = 1; i <= 1_000; i++)
        {
            hub.Publish(i);
            if (i is 1 or 3 or 50 or 99 or 100 or 101 or 517)
            {
                using HubSubscription<int> probe = hub.Subscribe();
                List<HubEntry<int>> entries = probe.Drain();
                int first = Math.Max(1, i - 99);
                Assert.Equal(Enumerable.Range(first, i - first + 1), entries.Select(e => e.Value));
            }
        }

        using HubSubscription<int> late = hub.Subscribe();
        Assert.Equal(Enumerable.Range(901, 100), late.Drain().Select(e => e.Value));
    }

    [Fact]
    public async Task Dispose_EndsAPendingWaitToReadAsync()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 4, subscriberBufferCapacity: 4, new FakeTimeProvider());
        HubSubscription<int> subscription = hub.Subscribe();
        Assert.Equal(1, hub.SubscriberCount);
        ValueTask<bool> wait = subscription.WaitToReadAsync();
        Assert.False(wait.IsCompleted);

        subscription.Dispose();

        Assert.False(await wait.WithTimeout());
        Assert.Equal(0, hub.SubscriberCount);
        Assert.True(subscription.IsFinished);
        Assert.False(await subscription.WaitToReadAsync().WithTimeout());
        subscription.Dispose(); // idempotent
        Assert.Equal(0, hub.SubscriberCount);
    }

    [Fact]
    public async Task Dispose_DiscardsBufferedEntriesAndStopsDelivery()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 4, subscriberBufferCapacity: 4, new FakeTimeProvider());
        HubSubscription<int> disposed = hub.Subscribe();
        using HubSubscription<int> other = hub.Subscribe();
        hub.Publish(1);

        disposed.Dispose();
        hub.Publish(2);
        hub.TryComplete(3);

        Assert.False(disposed.TryRead(out _));
        Assert.Empty(await disposed.ReadToEndAsync());
        Assert.Equal("1 2 3T", other.Drain().Describe());
        Assert.Equal(1, hub.SubscriberCount);
    }

    [Fact]
    public async Task ReadAllAsync_EndsAfterTheTerminalItem()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 1_000, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        Task<List<HubEntry<int>>> reader = Task.Run(() => subscription.ReadToEndAsync());

        for (int i = 1; i <= 100; i++)
        {
            hub.Publish(i);
        }

        hub.TryComplete(-1);
        List<HubEntry<int>> entries = await reader.WithTimeout();

        HubTestHelpers.AssertContiguous(entries, firstExpected: 1, terminalSequence: 101);
        Assert.Equal(101, entries.Count);
        Assert.False(await subscription.WaitToReadAsync().WithTimeout());
    }

    [Fact]
    public async Task WaitToReadAsync_IsWokenByAPublish()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        ValueTask<bool> wait = subscription.WaitToReadAsync();
        Assert.False(wait.IsCompleted);

        hub.Publish(42);

        Assert.True(await wait.WithTimeout());
        Assert.True(subscription.TryRead(out HubEntry<int> entry));
        Assert.Equal(42, entry.Value);
    }

    [Fact]
    public async Task WaitToReadAsync_WithEntriesAvailable_CompletesSynchronously()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        hub.Publish(1);

        ValueTask<bool> wait = subscription.WaitToReadAsync();

        Assert.True(wait.IsCompletedSuccessfully);
        Assert.True(await wait);
    }

    [Fact]
    public async Task WaitToReadAsync_ContinuationDoesNotRunInsidePublish()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        System.Runtime.CompilerServices.ValueTaskAwaiter<bool> awaiter = subscription.WaitToReadAsync().GetAwaiter();
        var ran = new TaskCompletionSource<(bool Inline, bool Result)>(TaskCreationOptions.RunContinuationsAsynchronously);
        int publisherThread = Environment.CurrentManagedThreadId;
        bool publishing = false;
        awaiter.UnsafeOnCompleted(() =>
            ran.SetResult((publishing && Environment.CurrentManagedThreadId == publisherThread, ReadResult(awaiter))));

        publishing = true;
        hub.Publish(1);
        publishing = false;

        (bool inline, bool result) = await ran.Task.WithTimeout();
        Assert.False(inline, "The reader's continuation ran inline inside Publish.");
        Assert.True(result);

        static bool ReadResult(System.Runtime.CompilerServices.ValueTaskAwaiter<bool> completed) => completed.GetResult();
    }

    [Fact]
    public async Task WaitToReadAsync_Cancelled_ThrowsAndTheSubscriptionStaysUsable()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        using var cts = new CancellationTokenSource();
        ValueTask<bool> wait = subscription.WaitToReadAsync(cts.Token);
        Assert.False(wait.IsCompleted);

        await cts.CancelAsync();

        OperationCanceledException exception =
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WithTimeout());
        Assert.Equal(cts.Token, exception.CancellationToken);

        ValueTask<bool> second = subscription.WaitToReadAsync();
        hub.Publish(7);
        Assert.True(await second.WithTimeout());
        Assert.Equal("1", subscription.Drain().Describe());
    }

    [Fact]
    public async Task WaitToReadAsync_AlreadyCancelledToken_ReturnsCanceledAtOnce()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        hub.Publish(1);

        ValueTask<bool> wait = subscription.WaitToReadAsync(new CancellationToken(canceled: true));

        Assert.True(wait.IsCanceled);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask());
        Assert.Equal("1", subscription.Drain().Describe());
    }

    [Fact]
    public async Task WaitToReadAsync_CompletedBeforeCancellation_IgnoresTheLaterCancel()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        using var cts = new CancellationTokenSource();
        ValueTask<bool> wait = subscription.WaitToReadAsync(cts.Token);
        hub.Publish(1);
        Assert.True(await wait.WithTimeout());

        await cts.CancelAsync(); // the registration was removed: no effect on the next wait
        ValueTask<bool> next = subscription.WaitToReadAsync();

        Assert.True(next.IsCompletedSuccessfully); // #1 still unread
        Assert.Equal("1", subscription.Drain().Describe());
        ValueTask<bool> parked = subscription.WaitToReadAsync();
        Assert.False(parked.IsCompleted);
        subscription.Dispose();
        Assert.False(await parked.WithTimeout());
    }

    [Fact]
    public async Task WaitToReadAsync_SecondConcurrentWait_Throws()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        ValueTask<bool> first = subscription.WaitToReadAsync();

        Assert.Throws<InvalidOperationException>(() => subscription.WaitToReadAsync());

        hub.Publish(1);
        Assert.True(await first.WithTimeout());
    }

    [Fact]
    public async Task ReadAllAsync_Cancelled_Throws()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, new FakeTimeProvider());
        using HubSubscription<int> subscription = hub.Subscribe();
        using var cts = new CancellationTokenSource();
        hub.Publish(1);
        var seen = new List<ulong>();

        Task reading = Task.Run(async () =>
        {
            await foreach (HubEntry<int> entry in subscription.ReadAllAsync(cts.Token))
            {
                seen.Add(entry.Sequence);
                await cts.CancelAsync();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading.WithTimeout());
        Assert.Equal([1UL], seen);
    }

    [Fact]
    public async Task Publish_FromTwoThreads_KeepsSequencesUniqueAndContiguous()
    {
        const int PerThread = 20_000;
        var hub = new BroadcastHub<int>(replayCapacity: 16, subscriberBufferCapacity: 2 * PerThread + 1, TimeProvider.System);
        using HubSubscription<int> subscription = hub.Subscribe();
        using var start = new Barrier(2);

        Task<ulong[]> Publisher(int id) => Task.Factory.StartNew(
            () =>
            {
                var sequences = new ulong[PerThread];
                start.SignalAndWait();
                for (int i = 0; i < PerThread; i++)
                {
                    sequences[i] = hub.Publish((id * PerThread) + i);
                }

                return sequences;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        ulong[][] results = await Task.WhenAll(Publisher(0), Publisher(1)).WithTimeout();
        hub.TryComplete(-1);

        ulong[] all = [.. results[0], .. results[1]];
        Array.Sort(all);
        Assert.Equal(Enumerable.Range(1, 2 * PerThread).Select(i => (ulong)i), all);
        Assert.True(results.All(r => r.Zip(r.Skip(1)).All(p => p.First < p.Second)), "Each publisher sees its own sequences grow.");

        List<HubEntry<int>> entries = subscription.Drain();
        HubTestHelpers.AssertContiguous(entries, firstExpected: 1, terminalSequence: 2 * PerThread + 1);
        Assert.DoesNotContain(entries, e => e.IsGap);
    }

    [Fact]
    public void HubEntry_ToString_DescribesItemsAndGaps()
    {
        var hub = new BroadcastHub<string>(replayCapacity: 0, subscriberBufferCapacity: 1, new FakeTimeProvider(s_start));
        using HubSubscription<string> subscription = hub.Subscribe();
        hub.Publish("x");
        hub.Publish("y");
        hub.TryComplete("z");

        List<HubEntry<string>> entries = subscription.Drain();

        Assert.Equal("#1 @ 2026-03-01T12:00:00.0000000+00:00: x", entries[0].ToString());
        Assert.Equal("gap 2..2 @ 2026-03-01T12:00:00.0000000+00:00", entries[1].ToString());
        Assert.Equal("#3 @ 2026-03-01T12:00:00.0000000+00:00: z (terminal)", entries[2].ToString());
    }
}
