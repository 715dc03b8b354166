using FiberManager.Core.Hub;

namespace FiberManager.Core.Tests.Hub;

/// <summary>Many short races between a parked reader and the threads that can wake it.</summary>
[Collection(nameof(HubExclusiveCollection))]
public sealed class BroadcastHubRaceTests
{
    private const int Rounds = 2_000;

    [Fact]
    public async Task ParkedWait_RacingCancelAndPublish_EndsOnceAndNothingIsLost()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, TimeProvider.System);
        using HubSubscription<int> subscription = hub.Subscribe();
        CancellationTokenSource? cts = null;
        ValueTask<bool> wait = default;

        await RaceAsync(
            prepare: _ =>
            {
                cts = new CancellationTokenSource();
                wait = subscription.WaitToReadAsync(cts.Token);
            },
            first: _ => cts!.Cancel(),
            second: round => hub.Publish(round),
            check: async round =>
            {
                try
                {
                    Assert.True(await wait.WithTimeout());
                }
                catch (OperationCanceledException)
                {
                    // Cancellation won the race: also legal. Either way the wait ended exactly once.
                }

                cts!.Dispose();
                Assert.True(subscription.TryRead(out HubEntry<int> entry));
                Assert.Equal((ulong)round, entry.Sequence);
                Assert.False(subscription.TryRead(out _));
            });
    }

    [Fact]
    public async Task ParkedWait_RacingDisposeAndPublish_EndsWithTrueOrFalseAndTheSubscriptionEnds()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 0, subscriberBufferCapacity: 4, TimeProvider.System);
        HubSubscription<int>? subscription = null;
        ValueTask<bool> wait = default;

        await RaceAsync(
            prepare: _ =>
            {
                subscription = hub.Subscribe();
                wait = subscription.WaitToReadAsync();
            },
            first: _ => subscription!.Dispose(),
            second: round => hub.Publish(round),
            check: async round =>
            {
                await wait.WithTimeout(); // true (woken by the publish) or false (by the dispose): either way it ends
                Assert.False(subscription!.TryRead(out _));
                Assert.False(await subscription.WaitToReadAsync().WithTimeout());
                Assert.True(subscription.IsFinished);
            });

        Assert.Equal(0, hub.SubscriberCount);
    }

    [Fact]
    public async Task SubscribeAndDispose_RacingPublishes_KeepTheSubscriberListConsistent()
    {
        var hub = new BroadcastHub<int>(replayCapacity: 8, subscriberBufferCapacity: 4, TimeProvider.System);
        using var stop = new CancellationTokenSource();
        Task publisher = Task.Run(() =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                hub.Publish(i++);
            }
        });

        Task[] churners = [.. Enumerable.Range(0, 4).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            for (int round = 0; round < Rounds; round++)
            {
                using HubSubscription<int> subscription = hub.Subscribe((ulong)random.Next(0, 100));
                List<HubEntry<int>> entries = subscription.Drain();
                if (entries.Count > 0)
                {
                    HubTestHelpers.AssertContiguous(entries, firstExpected: entries[0].IsGap ? entries[0].GapFrom : entries[0].Sequence, terminalSequence: null);
                }
            }
        }))];

        await Task.WhenAll(churners).WithTimeout(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await publisher.WithTimeout();

        Assert.Equal(0, hub.SubscriberCount);
    }

    /// <summary>
    /// Runs <see cref="Rounds"/> rounds. In each, the test thread prepares, then two long-lived worker
    /// threads released together by a barrier run <paramref name="first"/> and <paramref name="second"/>
    /// at the same moment, then the test thread checks the outcome.
    /// </summary>
    private static async Task RaceAsync(Action<int> prepare, Action<int> first, Action<int> second, Func<int, Task> check)
    {
        using var barrier = new Barrier(3);
        using var abort = new CancellationTokenSource();

        void Step()
        {
            if (!barrier.SignalAndWait(HubTestHelpers.DefaultTimeout, abort.Token))
            {
                throw new TimeoutException("A race participant did not reach the barrier.");
            }
        }

        Task Worker(Action<int> action) => Task.Factory.StartNew(
            () =>
            {
                for (int round = 1; round <= Rounds; round++)
                {
                    Step(); // start
                    action(round);
                    Step(); // done
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        Task[] workers = [Worker(first), Worker(second)];
        try
        {
            for (int round = 1; round <= Rounds; round++)
            {
                prepare(round);
                Step(); // start: both actions run now
                Step(); // done: both actions have returned
                await check(round);
            }

            await Task.WhenAll(workers).WithTimeout();
        }
        finally
        {
            await abort.CancelAsync();
            await Task.WhenAll(workers).ContinueWith(static _ => { }, TaskScheduler.Default); // observe worker faults
        }
    }
}
