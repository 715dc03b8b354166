using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Collections.Concurrent;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Stress;

/// <summary>
/// Scopes created, forked into, given finalizers and closed from many threads at once, the root
/// closed three quarters of the way through: afterwards every scope is closed, every fiber ended,
/// every body that ran ran its finally once, and every finalizer that was accepted ran exactly once.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class ScopeStressTests
{
    private const int WorkerCount = 8;
    private const int OperationsPerWorker = 600;
    private const int Operations = WorkerCount * OperationsPerWorker;
    private const int CloseRootAt = Operations * 3 / 4;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Scopes_ConcurrentCreateForkFinalizeAndClose_EveryFiberAndFinalizerEndsExactlyOnce(int seed)
    {
        using var unobserved = new UnobservedExceptionProbe();
        var runtime = new FiberRuntime();
        await using (runtime.DisposeBounded())
        {
            var root = runtime.CreateScope();
            var scopes = new FiberScope?[Operations + 1];
            scopes[0] = root;
            var scopeCount = 1;
            var ledger = new Ledger(Operations);
            var finalizers = new ConcurrentQueue<(bool Accepted, Func<int> Runs)>();
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
                    if (op == CloseRootAt)
                    {
                        // Checked the moment the root's close completes, while the other workers keep going.
                        await root.CloseAsync();
                        var created = Volatile.Read(ref scopeCount);
                        for (var s = 0; s < created; s++)
                        {
                            if (Volatile.Read(ref scopes[s]) is { IsClosed: false } open)
                            {
                                violations.Enqueue($"scope #{open.Id} open when the root's close completed");
                            }
                        }

                        foreach (var entry in ledger.All.Where(e => e.Started == 1 && !e.Fiber!.IsDone))
                        {
                            violations.Enqueue($"a {entry.Kind} fiber was still running when the root's close completed");
                        }

                        foreach (var (accepted, runs) in finalizers.Where(f => f.Accepted && f.Runs() != 1))
                        {
                            violations.Enqueue($"an accepted finalizer had run {runs()} times when the root's close completed");
                        }

                        continue;
                    }

                    var scope = PickScope(random);
                    var roll = random.Next(100);
                    if (roll < 15)
                    {
                        var child = scope.CreateChild();
                        Volatile.Write(ref scopes[Interlocked.Increment(ref scopeCount) - 1], child);
                    }
                    else if (roll < 75)
                    {
                        var entry = new LedgerEntry(LedgerEntry.RandomKind(random), 0);
                        entry.Fiber = (random.Next(2) == 0 ? root : scope).Fork(entry.Body);
                        ledger.Record(op, entry);
                    }
                    else if (roll < 88)
                    {
                        var runs = 0;
                        var accepted = scope.TryAddFinalizer(() =>
                        {
                            Interlocked.Increment(ref runs);
                            return ValueTask.CompletedTask;
                        });
                        finalizers.Enqueue((accepted, () => Volatile.Read(ref runs)));
                    }
                    else if (roll < 91)
                    {
                        if (!ReferenceEquals(scope, root))
                        {
                            pending.Enqueue(scope.CloseAsync());
                        }
                    }
                    else
                    {
                        ledger.PickEarlier(random, op)?.Interrupt();
                    }
                }

                FiberScope PickScope(Random random)
                {
                    var count = Volatile.Read(ref scopeCount);
                    return Volatile.Read(ref scopes[random.Next(count)]) ?? root;
                }
            }).DefaultTimeout();
            await root.CloseAsync().DefaultTimeout();

            var run = $"scopes seed {seed}";
            Assert.Empty(violations);
            var all = scopes.Take(scopeCount).OfType<FiberScope>().ToArray();
            Assert.All(all, s => Assert.True(s.IsClosed, $"{run}: scope #{s.Id} is open after the root closed"));
            Assert.All(all, s => Assert.Equal(0, s.FiberCount));
            Assert.False(root.TryAddFinalizer(() => ValueTask.CompletedTask), $"{run}: the closed root accepted a finalizer");
            foreach (var entry in ledger.All)
            {
                if (entry.Started == 1)
                {
                    Assert.True(entry.Fiber!.IsDone, $"{run}: a {entry.Kind} fiber is still running after the root closed");
                }
                else
                {
                    Assert.True(entry.Fiber!.IsDone || entry.Fiber.IsInterruptRequested, $"{run}: a {entry.Kind} fiber was left to run");
                }
            }

            foreach (var (accepted, runs) in finalizers)
            {
                Assert.True(runs() == (accepted ? 1 : 0), $"{run}: a finalizer {(accepted ? "accepted" : "refused")} ran {runs()} times");
            }

            await pending.WhenAllBounded();
            await ledger.AssertEveryFiberEndedOnceAsync(run);
            Assert.True(all.Length > 100 && finalizers.Count > 100);
        }

        unobserved.AssertNoneAfterCollection();
    }
}
