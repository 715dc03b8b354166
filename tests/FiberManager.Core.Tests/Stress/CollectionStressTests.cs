using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Collections.Concurrent;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Stress;

/// <summary>
/// Thousands of concurrent operations on one set or map from many threads, closed three quarters of
/// the way through: afterwards the collection is empty, every fiber has ended, and every body that
/// ran ran its finally exactly once.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class CollectionStressTests
{
    private const int WorkerCount = 8;
    private const int OperationsPerWorker = 1000;
    private const int Operations = WorkerCount * OperationsPerWorker;
    private const int CloseAt = Operations * 3 / 4;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task FiberSet_ConcurrentRunAddInterruptClearAwaitAndClose_EmptyAndEveryFiberEndedOnce(int seed)
    {
        using var unobserved = new UnobservedExceptionProbe();
        var runtime = new FiberRuntime();
        await using (runtime.DisposeBounded())
        {
            var donors = runtime.CreateScope();
            var set = new FiberSet(runtime.CreateScope());
            var ledger = new Ledger(Operations);
            var pending = new ConcurrentQueue<Task>();
            var violations = new ConcurrentQueue<string>();
            var operation = 0;

            await Workers.RunAsync(WorkerCount, async worker =>
            {
                var random = new Random(seed * 1000 + worker);
                for (var i = 0; i < OperationsPerWorker; i++)
                {
                    await Task.Yield();
                    var op = Interlocked.Increment(ref operation) - 1;
                    if (op == CloseAt)
                    {
                        // Checked the moment the close completes, while the other workers keep going.
                        await set.CloseAsync();
                        if (set.Count != 0)
                        {
                            violations.Enqueue($"Count {set.Count} when the close completed");
                        }

                        foreach (var entry in ledger.All.Where(e => !e.AddedFromElsewhere && e.Started == 1 && !e.Fiber!.IsDone))
                        {
                            violations.Enqueue($"a {entry.Kind} member was still running when the close completed");
                        }

                        continue;
                    }

                    var roll = random.Next(100);
                    if (roll < 60)
                    {
                        var entry = new LedgerEntry(LedgerEntry.RandomKind(random), 0);
                        entry.Fiber = set.Run(entry.Body);
                        ledger.Record(op, entry);
                    }
                    else if (roll < 70)
                    {
                        // A fiber forked elsewhere (some have ended already), added to the set.
                        var entry = new LedgerEntry(LedgerEntry.RandomKind(random), 0) { AddedFromElsewhere = true };
                        entry.Fiber = donors.Fork(entry.Body);
                        ledger.Record(op, entry);
                        set.TryAdd(entry.Fiber);
                    }
                    else if (roll < 82)
                    {
                        ledger.PickEarlier(random, op)?.Interrupt();
                    }
                    else if (roll < 88)
                    {
                        pending.Enqueue(set.ClearAsync());
                    }
                    else if (roll < 94)
                    {
                        if (ledger.PickEarlier(random, op) is { } fiber)
                        {
                            pending.Enqueue(fiber.AwaitExitAsync().AsTask());
                        }
                    }
                    else
                    {
                        _ = set.Count;
                        pending.Enqueue(set.AwaitEmptyAsync());
                    }
                }
            }).DefaultTimeout();
            await set.CloseAsync().DefaultTimeout();

            var run = $"set seed {seed}";
            Assert.Empty(violations);
            Assert.True(set.IsClosed);
            Assert.Equal(0, set.Count);
            foreach (var entry in ledger.All)
            {
                if (entry.Started == 1 && !entry.AddedFromElsewhere)
                {
                    // A body that ran was a member: the close waited for it.
                    Assert.True(entry.Fiber!.IsDone, $"{run}: a {entry.Kind} member is still running after the set closed");
                }
                else
                {
                    // Rejected by the closed set (or interrupted before it ran): interrupted, possibly still ending.
                    Assert.True(entry.Fiber!.IsDone || entry.Fiber.IsInterruptRequested, $"{run}: a {entry.Kind} fiber was left running after the set closed");
                }
            }

            await pending.WhenAllBounded();
            await donors.CloseAsync().DefaultTimeout();
            await ledger.AssertEveryFiberEndedOnceAsync(run);
            Assert.True(ledger.All.Count > Operations / 2);
        }

        unobserved.AssertNoneAfterCollection();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task FiberMap_ConcurrentRunReplaceRemoveInterruptClearAndClose_CountBoundedThenEmptyAndEveryFiberEndedOnce(int seed)
    {
        const int Keys = 32;
        using var unobserved = new UnobservedExceptionProbe();
        var runtime = new FiberRuntime();
        await using (runtime.DisposeBounded())
        {
            var map = new FiberMap<int>(runtime.CreateScope());
            var ledger = new Ledger(Operations);
            var keyOf = new ConcurrentDictionary<Fiber, int>();
            var pending = new ConcurrentQueue<Task>();
            var violations = new ConcurrentQueue<string>();
            var operation = 0;
            var workersDone = 0;

            // Samples the map while the workers run: never more fibers than keys, never a fiber under a key it was not run under.
            var monitor = Task.Factory.StartNew(
                () =>
                {
                    var samples = 0;
                    while (Volatile.Read(ref workersDone) == 0 || samples == 0)
                    {
                        samples++;
                        var count = map.Count;
                        var keys = map.Keys;
                        if (count > Keys || keys.Count > Keys || keys.Distinct().Count() != keys.Count)
                        {
                            violations.Enqueue($"count {count}, keys [{string.Join(",", keys)}]");
                        }

                        Thread.Yield();
                    }

                    return samples;
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            await Workers.RunAsync(WorkerCount, async worker =>
            {
                var random = new Random(seed * 1000 + worker);
                for (var i = 0; i < OperationsPerWorker; i++)
                {
                    await Task.Yield();
                    var op = Interlocked.Increment(ref operation) - 1;
                    if (op == CloseAt)
                    {
                        // Checked the moment the close completes, while the other workers keep going:
                        // members were awaited, replaced and removed fibers were interrupted by the map.
                        await map.CloseAsync();
                        if (map.Count != 0)
                        {
                            violations.Enqueue($"Count {map.Count} when the close completed");
                        }

                        foreach (var entry in ledger.All.Where(e => !e.Fiber!.IsDone && !e.Fiber.IsInterruptRequested))
                        {
                            violations.Enqueue($"a {entry.Kind} fiber was left running when the close completed");
                        }

                        continue;
                    }

                    var key = random.Next(Keys);
                    var roll = random.Next(100);
                    if (roll < 60)
                    {
                        var entry = new LedgerEntry(LedgerEntry.RandomKind(random), key);
                        entry.Fiber = map.Run(key, entry.Body, onlyIfMissing: roll >= 45);
                        keyOf[entry.Fiber] = key;
                        ledger.Record(op, entry);
                    }
                    else if (roll < 75)
                    {
                        pending.Enqueue(map.RemoveAsync(key));
                    }
                    else if (roll < 85)
                    {
                        if (map.TryGet(key, out var current))
                        {
                            if (keyOf.TryGetValue(current, out var runUnder) && runUnder != key)
                            {
                                violations.Enqueue($"key {key} holds a fiber run under {runUnder}");
                            }

                            current.Interrupt();
                        }
                    }
                    else if (roll < 90)
                    {
                        pending.Enqueue(map.ClearAsync());
                    }
                    else
                    {
                        if (ledger.PickEarlier(random, op) is { } fiber)
                        {
                            pending.Enqueue(fiber.AwaitExitAsync().AsTask());
                        }
                    }
                }
            }).DefaultTimeout();
            Volatile.Write(ref workersDone, 1);
            Assert.True(await monitor.DefaultTimeout() > 0);
            await map.CloseAsync().DefaultTimeout();

            var run = $"map seed {seed}";
            Assert.Empty(violations);
            Assert.True(map.IsClosed);
            Assert.Equal(0, map.Count);
            Assert.Empty(map.Keys);
            foreach (var entry in ledger.All)
            {
                // Members were awaited by the close; replaced and removed fibers were interrupted by the map.
                Assert.True(entry.Fiber!.IsDone || entry.Fiber.IsInterruptRequested, $"{run}: a {entry.Kind} fiber is still running after the map closed");
            }

            await pending.WhenAllBounded();
            await ledger.AssertEveryFiberEndedOnceAsync(run);
            Assert.True(ledger.All.Count > Operations / 3);
        }

        unobserved.AssertNoneAfterCollection();
    }
}

internal static class PendingTasks
{
    /// <summary>Awaits every queued task (clears, removes, closes, awaits: none of them may fault).</summary>
    public static Task WhenAllBounded(this ConcurrentQueue<Task> pending) => Task.WhenAll(pending).DefaultTimeout();
}
