using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Collections.Concurrent;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Fibers;

/// <summary>Closing a scope: interrupt and await its fibers, then run its finalizers in reverse order, once.</summary>
public sealed class FiberScopeTests
{
    [Fact]
    public async Task CloseAsync_FibersStillInTheirFinally_InterruptsEveryFiberAndCompletesOnlyAfterTheirFinallyBlocks()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var release = Gate.Create();
        var started = 0;
        var allStarted = Gate.Create();
        var inFinally = 0;
        var allInFinally = Gate.Create();
        var finallyCompleted = 0;
        var fibers = Enumerable.Range(0, 3).Select(_ => scope.Fork(async ctx =>
        {
            try
            {
                if (Interlocked.Increment(ref started) == 3)
                {
                    allStarted.SetResult();
                }

                await ctx.NeverAsync();
            }
            finally
            {
                if (Interlocked.Increment(ref inFinally) == 3)
                {
                    allInFinally.SetResult();
                }

                await release.Task;
                Interlocked.Increment(ref finallyCompleted);
            }
        })).ToArray();

        await allStarted.Task.DefaultTimeout();
        var closing = scope.CloseAsync();
        await allInFinally.Task.DefaultTimeout();
        Assert.False(closing.IsCompleted);
        release.SetResult();
        await closing.DefaultTimeout();

        Assert.Equal(3, Volatile.Read(ref finallyCompleted));
        Assert.Equal(0, scope.FiberCount);
        foreach (var fiber in fibers)
        {
            Assert.True(fiber.IsDone);
            Assert.Equal(new Interruptor(InterruptorKind.Scope, scope.Id), (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
        }
    }

    [Fact]
    public async Task CloseAsync_CalledTwice_ReturnsTheSameCompletionAndRunsFinalizersOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var completion = scope.Completion;
        var finalizerRuns = 0;
        Assert.True(scope.TryAddFinalizer(() =>
        {
            Interlocked.Increment(ref finalizerRuns);
            return ValueTask.CompletedTask;
        }));
        scope.Fork(async ctx => await ctx.NeverAsync());

        var first = scope.CloseAsync();
        var second = scope.CloseAsync();
        await scope.DisposeAsync().DefaultTimeout();
        await first.DefaultTimeout();

        Assert.Same(first, second);
        Assert.Same(completion, first);
        Assert.True(scope.IsClosed);
        Assert.Equal(1, finalizerRuns);
    }

    [Fact]
    public async Task Fork_IntoAClosedScope_InterruptedAtOnceAndTheBodyNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        await scope.CloseAsync().DefaultTimeout();
        var ran = 0;
        Func<FiberContext, Task> body = _ =>
        {
            Interlocked.Increment(ref ran);
            return Task.CompletedTask;
        };

        var direct = scope.Fork(body);
        var forkIn = runtime.ForkDaemon(ctx => ctx.ForkIn(scope, body).JoinAsync());

        Assert.True(direct.IsInterruptRequested);
        var exit = await direct.AwaitExitAsync().DefaultTimeout();
        Assert.Equal(new Interruptor(InterruptorKind.Scope, scope.Id), exit.Interruptor);
        await Assert.ThrowsAsync<FiberInterruptedException>(() => forkIn.JoinAsync().DefaultTimeout());
        Assert.Equal(0, ran);
    }

    [Fact]
    public async Task ForkScoped_FromTheFinallyOfAFiberWhoseScopeIsClosing_InterruptedAtOnceAndNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var lateRan = false;
        Fiber<Unit>? late = null;
        var started = Gate.Create();
        scope.Fork(async ctx =>
        {
            try
            {
                started.SetResult();
                await ctx.NeverAsync();
            }
            finally
            {
                late = ctx.ForkScoped(_ =>
                {
                    lateRan = true;
                    return Task.CompletedTask;
                });
            }
        });

        await started.Task.DefaultTimeout();
        await scope.CloseAsync().DefaultTimeout();
        var exit = await late!.AwaitExitAsync().DefaultTimeout();

        Assert.False(lateRan);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, scope.Id), exit.Interruptor);
    }

    [Fact]
    public async Task Finalizers_OnClose_RunInReverseOrderOneAtATimeAfterTheFibersEnded()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var order = new ConcurrentQueue<string>();
        var fiberDoneWhenFinalizerRan = new ConcurrentQueue<bool>();
        var started = Gate.Create();
        var inFinally = Gate.Create();
        var release = Gate.Create();
        var fiber = scope.Fork(async ctx =>
        {
            try
            {
                started.SetResult();
                await ctx.NeverAsync();
            }
            finally
            {
                inFinally.SetResult();
                await release.Task;
                order.Enqueue("fiber");
            }
        });
        scope.TryAddFinalizer(() => Record("A"));
        scope.TryAddFinalizer(async () =>
        {
            await Task.Yield(); // A must still wait for B to finish
            await Record("B");
        });
        scope.TryAddFinalizer(() => Record("C"));

        await started.Task.DefaultTimeout();
        var closing = scope.CloseAsync();
        await inFinally.Task.DefaultTimeout();
        Assert.Empty(order);
        release.SetResult();
        await closing.DefaultTimeout();

        Assert.Equal(new[] { "fiber", "C", "B", "A" }, order);
        Assert.All(fiberDoneWhenFinalizerRan, Assert.True);

        ValueTask Record(string name)
        {
            fiberDoneWhenFinalizerRan.Enqueue(fiber.IsDone);
            order.Enqueue(name);
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Finalizers_SomeThrow_OthersStillRunAndTheCloseFaultsWithAllFailures()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var ran = new ConcurrentQueue<string>();
        scope.TryAddFinalizer(() =>
        {
            ran.Enqueue("A");
            return ValueTask.CompletedTask;
        });
        scope.TryAddFinalizer(() => throw new TestException("synchronous"));
        scope.TryAddFinalizer(async () =>
        {
            await Task.Yield();
            throw new TestException("asynchronous");
        });
        scope.TryAddFinalizer(() =>
        {
            ran.Enqueue("D");
            return ValueTask.CompletedTask;
        });

        var thrown = await Assert.ThrowsAsync<AggregateException>(() => scope.CloseAsync().DefaultTimeout());

        Assert.Equal(new[] { "D", "A" }, ran);
        Assert.Equal(new[] { "asynchronous", "synchronous" }, thrown.InnerExceptions.Select(e => e.Message));
        Assert.All(thrown.InnerExceptions, e => Assert.IsType<TestException>(e));
        Assert.True(scope.Completion.IsFaulted);
    }

    [Fact]
    public async Task CreateChild_ParentCloses_ChildAndGrandchildCloseAndTheirFibersAreInterrupted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var parent = runtime.CreateScope();
        var child = parent.CreateChild();
        var grandchild = child.CreateChild();
        var inChild = child.Fork(async ctx => await ctx.NeverAsync());
        var inGrandchild = grandchild.Fork(async ctx => await ctx.NeverAsync());

        await parent.CloseAsync().DefaultTimeout();

        Assert.True(child.IsClosed);
        Assert.True(grandchild.IsClosed);
        Assert.True(inChild.IsDone);
        Assert.True(inGrandchild.IsDone);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, child.Id), (await inChild.AwaitExitAsync().DefaultTimeout()).Interruptor);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, grandchild.Id), (await inGrandchild.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task CreateChild_ClosedOnItsOwnTenThousandTimes_ParentKeepsNoFinalizerForThem()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var parent = runtime.CreateScope();

        // A finalizer the parent (or the global scope) still held would keep its closed scope reachable.
        var closed = await Retention.TrackAsync(async track =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                var child = (FiberScope)track(parent.CreateChild());
                if (i % 100 == 0)
                {
                    child.Fork(async ctx => await ctx.NeverAsync());
                }

                await child.CloseAsync().DefaultTimeout();
            }

            for (var i = 0; i < 1_000; i++)
            {
                await ((FiberScope)track(runtime.CreateScope())).CloseAsync().DefaultTimeout();
            }
        });

        Retention.AssertAllCollected(closed, "closed scopes");
        Assert.False(parent.IsClosed);
        GC.KeepAlive(parent);
    }

    [Fact]
    public async Task CollectionsClosedOnTheirOwn_ScopeKeepsNoFinalizerForThem()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();

        var closed = await Retention.TrackAsync(async track =>
        {
            for (var i = 0; i < 3_000; i++)
            {
                var set = (FiberSet)track(new FiberSet(scope));
                set.Run(async ctx => await ctx.NeverAsync());
                await set.CloseAsync().DefaultTimeout();
                await ((FiberMap<int>)track(new FiberMap<int>(scope))).CloseAsync().DefaultTimeout();
                await ((FiberHandle)track(new FiberHandle(scope))).DisposeAsync().DefaultTimeout();
            }
        });

        Retention.AssertAllCollected(closed, "closed collections");
        Assert.False(scope.IsClosed);
        GC.KeepAlive(scope);
    }

    [Fact]
    public async Task TryAddFinalizer_AfterTheScopeClosed_ReturnsFalseAndTheFinalizerNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        await scope.CloseAsync().DefaultTimeout();
        var ran = false;

        var added = scope.TryAddFinalizer(() =>
        {
            ran = true;
            return ValueTask.CompletedTask;
        });
        await scope.CloseAsync().DefaultTimeout();

        Assert.False(added);
        Assert.False(ran);
    }

    [Fact]
    public async Task CreateChild_OfAClosedScope_IsClosedFromTheStart()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var parent = runtime.CreateScope();
        await parent.CloseAsync().DefaultTimeout();

        var child = parent.CreateChild();
        var fiber = child.Fork(async ctx => await ctx.NeverAsync());

        Assert.True(child.IsClosed);
        Assert.True((await fiber.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
        await child.Completion.DefaultTimeout();
    }

    [Fact]
    public async Task ScopedAsync_BodyThrows_ItsScopeStillClosesAndTheExceptionPropagates()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("boom");
        FiberScope? inner = null;
        Fiber<Unit>? scoped = null;
        var fiber = runtime.ForkDaemon(ctx => ctx.ScopedAsync(async local =>
        {
            inner = local.Scope;
            scoped = local.ForkScoped(async c => await c.NeverAsync());
            await Task.Yield();
            throw boom;
        }));

        var thrown = await Assert.ThrowsAsync<TestException>(() => fiber.JoinAsync().DefaultTimeout());

        Assert.Same(boom, thrown);
        Assert.True(inner!.IsClosed);
        Assert.True(scoped!.IsDone);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, inner.Id), (await scoped.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task Runtime_DisposeAsync_InterruptsAndAwaitsDaemonsAndLaterDaemonsNeverRun()
    {
        var runtime = new FiberRuntime();
        var finallyRan = false;
        var started = Gate.Create();
        var daemon = runtime.ForkDaemon(async ctx =>
        {
            try
            {
                started.SetResult();
                await ctx.NeverAsync();
            }
            finally
            {
                await Task.Yield();
                Volatile.Write(ref finallyRan, true);
            }
        });
        await started.Task.DefaultTimeout();

        await runtime.DisposeAsync().DefaultTimeout();
        var ran = false;
        var late = runtime.ForkDaemon(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        });

        Assert.True(daemon.IsDone);
        Assert.True(Volatile.Read(ref finallyRan));
        Assert.Equal(new Interruptor(InterruptorKind.Scope, runtime.GlobalScope.Id), (await daemon.AwaitExitAsync().DefaultTimeout()).Interruptor);
        Assert.True((await late.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
        Assert.False(ran);
    }
}
