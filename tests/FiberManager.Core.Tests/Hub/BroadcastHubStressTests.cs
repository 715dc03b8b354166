using System.Collections.Concurrent;
using FiberManager.Core.Hub;
using Xunit.Abstractions;

namespace FiberManager.Core.Tests.Hub;

[Collection(nameof(HubExclusiveCollection))]
public sealed class BroadcastHubStressTests(ITestOutputHelper output)
{
    private const int Items = 200_000;
    private const ulong TerminalSequence = Items + 1;

    // The publisher never gets more than this far ahead of the two fast readers. It is below the buffer
    // capacity, so the fast readers can never overflow, while the others (slow, stalled, churning,
    // resuming) are not waited for and must cope with drops.
    private const int FastWindow = 24;
    private const int BufferCapacity = 32;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task OnePublisherEightSubscribers_EverySubscriberReadsAContiguousStoryEndingWithTheTerminalItem()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await RunStressAsync();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Assert.Empty(unobserved);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }
    }

    private static long ValueOf(ulong sequence) => sequence == TerminalSequence ? -1 : (long)sequence * 3;

    private async Task RunStressAsync()
    {
        using var deadline = new CancellationTokenSource(s_timeout);
        CancellationToken ct = deadline.Token;
        var hub = new BroadcastHub<long>(replayCapacity: 64, subscriberBufferCapacity: BufferCapacity, TimeProvider.System);
        using var pacer = new Pacer(readers: 2);

        // Milestones: the publisher has published 25 %, 50 %, 75 % of the items. Sync points, not sleeps.
        TaskCompletionSource[] milestones =
            [.. Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

        // Subscribed before the first publish.
        HubSubscription<long> fast1 = hub.Subscribe();
        HubSubscription<long> fast2 = hub.Subscribe();
        HubSubscription<long> slow = hub.Subscribe();
        HubSubscription<long> stalled = hub.Subscribe();
        HubSubscription<long> churnStart1 = hub.Subscribe();
        HubSubscription<long> churnStart2 = hub.Subscribe();
        var owned = new ConcurrentBag<HubSubscription<long>> { fast1, fast2, slow, stalled };

        var checkers = new List<StoryChecker>();
        StoryChecker Checker(string name, ulong? firstExpected)
        {
            var checker = new StoryChecker(name, firstExpected);
            checkers.Add(checker);
            return checker;
        }

        Task[] readers =
        [
            Task.Run(() => ReadFastAsync(fast1, Checker("fast-1", 1), ct, pacer, 0)),
            Task.Run(() => ReadFastAsync(fast2, Checker("fast-2", 1), ct, pacer, 1)),
            Task.Run(() => ReadSlowAsync(slow, Checker("slow", 1), ct)),
            Task.Run(() => ReadStalledAsync(stalled, Checker("stalled", 1), milestones[1].Task, ct)),
            Task.Run(() => ChurnAsync(hub, churnStart1, Checker("churn-1", 1), seed: 11, ct)),
            Task.Run(() => ChurnAsync(hub, churnStart2, Checker("churn-2", 1), seed: 22, ct)),
            Task.Run(() => ResumeFromRandomAsync(hub, "resume-1", milestones[0].Task, seed: 33, checkers, owned, ct)),
            Task.Run(() => ResumeFromRandomAsync(hub, "resume-2", milestones[2].Task, seed: 44, checkers, owned, ct)),
        ];

        Task publisher = Task.Factory.StartNew(
            () =>
            {
                for (int i = 1; i <= Items; i++)
                {
                    pacer.WaitUntilWithin(i, FastWindow, ct);
                    ulong sequence = hub.Publish(ValueOf((ulong)i));
                    if (sequence != (ulong)i)
                    {
                        throw new InvalidOperationException($"Publish #{i} returned sequence {sequence}.");
                    }

                    if (i % (Items / 4) == 0 && i / (Items / 4) <= milestones.Length)
                    {
                        milestones[(i / (Items / 4)) - 1].SetResult();
                    }

                }

                if (!hub.TryComplete(ValueOf(TerminalSequence), out ulong terminal) || terminal != TerminalSequence)
                {
                    throw new InvalidOperationException($"TryComplete returned sequence {terminal}.");
                }
            },
            ct,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        await Task.WhenAll([publisher, .. readers]).WaitAsync(s_timeout);

        lock (checkers)
        {
            foreach (StoryChecker checker in checkers)
            {
                output.WriteLine(checker.ToString());
                checker.AssertEnded();
            }

            Assert.Equal(8, checkers.Count);
            Assert.True(checkers.Single(c => c.Name == "stalled").Gaps > 0, "The stalled subscriber must have overflowed.");
            Assert.All(checkers.Where(c => c.Name.StartsWith("fast", StringComparison.Ordinal)), c => Assert.Equal(0, c.Gaps));
            Assert.All(checkers.Where(c => c.Name.StartsWith("fast", StringComparison.Ordinal)), c => Assert.Equal(Items + 1, c.ItemsRead));
        }

        foreach (HubSubscription<long> subscription in owned)
        {
            subscription.Dispose();
        }

        Assert.Equal(0, hub.SubscriberCount);
    }

    private static async Task ReadFastAsync(
        HubSubscription<long> subscription, StoryChecker checker, CancellationToken ct, Pacer? pacer = null, int reader = 0)
    {
        await foreach (HubEntry<long> entry in subscription.ReadAllAsync(ct))
        {
            checker.Add(entry);
            pacer?.Report(reader, entry.Sequence);
        }
    }

    private static async Task ReadSlowAsync(HubSubscription<long> subscription, StoryChecker checker, CancellationToken ct)
    {
        // Slow by giving its thread away after every item, not by burning CPU the others need.
        while (await subscription.WaitToReadAsync(ct))
        {
            while (subscription.TryRead(out HubEntry<long> entry))
            {
                checker.Add(entry);
                await Task.Yield();
            }
        }
    }

    private static async Task ReadStalledAsync(HubSubscription<long> subscription, StoryChecker checker, Task resume, CancellationToken ct)
    {
        // Reads a little, then stops reading until the publisher is well past its buffer, then reads to the end.
        int read = 0;
        while (read < 10 && await subscription.WaitToReadAsync(ct))
        {
            while (read < 10 && subscription.TryRead(out HubEntry<long> entry))
            {
                checker.Add(entry);
                read++;
            }
        }

        await resume.WaitAsync(ct);
        await ReadFastAsync(subscription, checker, ct);
    }

    private static async Task ChurnAsync(
        BroadcastHub<long> hub, HubSubscription<long> first, StoryChecker checker, int seed, CancellationToken ct)
    {
        // Reads a random number of entries, disposes, resubscribes after the last sequence it saw; repeats
        // until it reads the terminal item. One checker across all segments: the story must stay contiguous.
        var random = new Random(seed);
        HubSubscription<long> subscription = first;
        ulong lastSeen = 0;
        while (true)
        {
            int quota = random.Next(50, 5_000);
            bool ended = false;
            while (quota > 0 && !ended && await subscription.WaitToReadAsync(ct))
            {
                while (quota > 0 && subscription.TryRead(out HubEntry<long> entry))
                {
                    checker.Add(entry);
                    lastSeen = entry.Sequence;
                    quota--;
                    if (entry.IsTerminal)
                    {
                        ended = true;
                        break;
                    }
                }
            }

            subscription.Dispose();
            if (ended)
            {
                return;
            }

            if (random.Next(4) == 0)
            {
                await Task.Yield();
            }

            subscription = hub.Subscribe(afterSequence: lastSeen);
        }
    }

    private static async Task ResumeFromRandomAsync(
        BroadcastHub<long> hub,
        string name,
        Task start,
        int seed,
        List<StoryChecker> checkers,
        ConcurrentBag<HubSubscription<long>> owned,
        CancellationToken ct)
    {
        await start.WaitAsync(ct);
        ulong last = hub.LastSequence;
        ulong after = (ulong)new Random(seed).NextInt64(1, (long)last + 1);
        HubSubscription<long> subscription = hub.Subscribe(after);
        owned.Add(subscription);
        var checker = new StoryChecker($"{name} (after {after} of {last})", after + 1);
        lock (checkers)
        {
            checkers.Add(checker);
        }

        await ReadFastAsync(subscription, checker, ct);
    }

    /// <summary>
    /// Keeps the publisher within a window of the slowest paced reader, blocking (not spinning) when it is
    /// too far ahead, so the test does not depend on how many CPUs are free.
    /// </summary>
    private sealed class Pacer(int readers) : IDisposable
    {
        private readonly long[] _progress = new long[readers];
        private readonly ManualResetEventSlim _advanced = new(initialState: false);

        public void Report(int reader, ulong sequence)
        {
            Volatile.Write(ref _progress[reader], (long)sequence);
            _advanced.Set();
        }

        public void WaitUntilWithin(long sequence, int window, CancellationToken ct)
        {
            while (sequence - Slowest() > window)
            {
                _advanced.Reset();
                if (sequence - Slowest() <= window)
                {
                    return;
                }

                _advanced.Wait(ct);
            }
        }

        public void Dispose() => _advanced.Dispose();

        private long Slowest()
        {
            long slowest = long.MaxValue;
            for (int i = 0; i < _progress.Length; i++)
            {
                slowest = Math.Min(slowest, Volatile.Read(ref _progress[i]));
            }

            return slowest;
        }
    }

    /// <summary>Checks, entry by entry, that items and gaps cover every sequence once, in order, up to the terminal item.</summary>
    private sealed class StoryChecker(string name, ulong? firstExpected)
    {
        private ulong _expected = firstExpected ?? 0;
        private bool _started;

        public string Name { get; } = name;

        public long ItemsRead { get; private set; }

        public long Gaps { get; private set; }

        public ulong Missed { get; private set; }

        public bool SawTerminal { get; private set; }

        public void Add(in HubEntry<long> entry)
        {
            if (SawTerminal)
            {
                Assert.Fail($"{Name}: read {entry} after the terminal item.");
            }

            if (!_started)
            {
                _started = true;
                if (firstExpected is null)
                {
                    Assert.False(entry.IsGap, $"{Name}: a subscriber from 0 must not start with a gap.");
                    _expected = entry.Sequence;
                }
            }

            if (entry.IsGap)
            {
                if (entry.GapFrom != _expected || entry.GapTo < entry.GapFrom || entry.IsTerminal)
                {
                    Assert.Fail($"{Name}: read {entry}, expected a gap from {_expected}.");
                }

                Gaps++;
                Missed += entry.GapTo - entry.GapFrom + 1;
                _expected = entry.GapTo + 1;
                return;
            }

            if (entry.Sequence != _expected)
            {
                Assert.Fail($"{Name}: read #{entry.Sequence}, expected #{_expected}.");
            }

            if (entry.Value != ValueOf(entry.Sequence) || entry.IsTerminal != (entry.Sequence == TerminalSequence))
            {
                Assert.Fail($"{Name}: #{entry.Sequence} carries {entry.Value} (terminal: {entry.IsTerminal}).");
            }

            ItemsRead++;
            _expected++;
            SawTerminal = entry.IsTerminal;
        }

        public void AssertEnded() => Assert.True(SawTerminal, $"{Name}: never read the terminal item ({this}).");

        public override string ToString() =>
            $"{Name}: {ItemsRead} items, {Gaps} gaps covering {Missed} sequences, terminal: {SawTerminal}";
    }
}
