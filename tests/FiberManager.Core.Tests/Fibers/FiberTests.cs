using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Collections.Concurrent;
using FiberManager.Core.Tests.Testing;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests.Fibers;

/// <summary>A fiber's identity, exit, await/join, interruption, status and supervision of its children.</summary>
public sealed class FiberTests
{
    private static readonly AsyncLocal<string?> s_flowed = new();

    [Fact]
    public async Task Id_FibersScopesAndCollectionsCreatedConcurrently_AreAllDistinct()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var ids = new ConcurrentBag<long>();
        var fibers = new ConcurrentBag<Fiber>();

        await Task.Run(() => Parallel.For(0, 1000, i =>
        {
            var scope = runtime.CreateScope();
            var fiber = runtime.ForkDaemon(_ => Task.CompletedTask);
            fibers.Add(fiber);
            ids.Add(fiber.Id);
            ids.Add(scope.Id);
            ids.Add(new FiberSet(scope).Id);
            ids.Add(new FiberMap<int>(scope).Id);
            ids.Add(new FiberHandle(scope).Id);
        })).DefaultTimeout();

        Assert.Equal(5000, ids.Count);
        Assert.Equal(5000, ids.Distinct().Count());
        await Task.WhenAll(fibers.Select(f => f.AwaitExitAsync().AsTask())).DefaultTimeout();
    }

    [Fact]
    public async Task AwaitAsync_BodyReturns_SuccessWithValueAndStatusDone()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();

        var fiber = runtime.ForkDaemon(async _ =>
        {
            await Task.Yield();
            return 42;
        });
        var exit = await fiber.AwaitAsync().DefaultTimeout();

        Assert.Equal(ExitKind.Success, exit.Kind);
        Assert.Equal(42, exit.Value);
        Assert.Null(exit.Exception);
        Assert.Equal(Interruptor.None, exit.Interruptor);
        Assert.True(fiber.IsDone);
        Assert.Equal(FiberStatus.Done, fiber.Status);
        Assert.True(fiber.TryGetExit(out var again));
        Assert.Equal(ExitKind.Success, again.Kind);
    }

    [Fact]
    public async Task AwaitAsync_BodyThrows_FailureWithTheExceptionAndNoThrow()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("boom");

        var fiber = runtime.ForkDaemon<int>(async _ =>
        {
            await Task.Yield();
            throw boom;
        });
        var exit = await fiber.AwaitAsync().DefaultTimeout();
        var untyped = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.Equal(ExitKind.Failure, exit.Kind);
        Assert.Same(boom, exit.Exception);
        Assert.Equal(Interruptor.None, exit.Interruptor);
        Assert.Same(boom, untyped.Exception);
    }

    [Fact]
    public async Task AwaitAsync_BodyThrowsBeforeItsFirstAwait_Failure()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("synchronous");

        var fiber = runtime.ForkDaemon<int>(_ => throw boom);
        var exit = await fiber.AwaitAsync().DefaultTimeout();

        Assert.True(exit.IsFailure);
        Assert.Same(boom, exit.Exception);
    }

    [Fact]
    public async Task AwaitExitAsync_InterruptedFromOutside_InterruptedByExternalAndNoThrow()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var started = Gate.Create();
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            started.SetResult();
            await ctx.NeverAsync();
        });
        await started.Task.DefaultTimeout();

        var interruptExit = await fiber.InterruptAsync().DefaultTimeout();
        var exit = await fiber.AwaitAsync().DefaultTimeout();

        Assert.Equal(ExitKind.Interrupted, interruptExit.Kind);
        Assert.Equal(Interruptor.External, interruptExit.Interruptor);
        Assert.Equal(ExitKind.Interrupted, exit.Kind);
        Assert.Equal(InterruptorKind.External, exit.Interruptor.Kind);
        Assert.Null(exit.Exception);
    }

    [Fact]
    public async Task Exit_ChildInterruptedBecauseItsParentEnded_InterruptedByTheParentFiber()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        Fiber<Unit>? child = null;

        var parent = runtime.ForkDaemon(ctx =>
        {
            child = ctx.Fork(async c => await c.NeverAsync());
            return Task.CompletedTask;
        });
        await parent.JoinAsync().DefaultTimeout();
        var exit = await child!.AwaitExitAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), exit.Interruptor);
    }

    [Fact]
    public async Task Exit_FiberInterruptedByItsScopeClosing_InterruptedByTheScope()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var fiber = scope.Fork(async c => await c.NeverAsync());

        await scope.CloseAsync().DefaultTimeout();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, scope.Id), exit.Interruptor);
    }

    [Fact]
    public async Task Exit_FiberInterruptedByItsSetClearing_InterruptedByTheCollection()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var fiber = set.Run(async c => await c.NeverAsync());

        await set.ClearAsync().DefaultTimeout();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, set.Id), exit.Interruptor);
    }

    [Fact]
    public async Task Interrupt_SecondInterruptorWhileFirstStillFinishing_FirstInterruptorIsReported()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
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
            }
        });
        await started.Task.DefaultTimeout();

        fiber.Interrupt();
        await inFinally.Task.DefaultTimeout();
        var closing = scope.CloseAsync();
        release.SetResult();
        await closing.DefaultTimeout();

        Assert.Equal(Interruptor.External, (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task JoinAsync_BodyFailed_RethrowsTheOriginalExceptionInstance()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("boom");
        var fiber = runtime.ForkDaemon<int>(async _ =>
        {
            await Task.Yield();
            throw boom;
        });

        var thrown = await Assert.ThrowsAsync<TestException>(() => fiber.JoinAsync().DefaultTimeout());

        Assert.Same(boom, thrown);
    }

    [Fact]
    public async Task JoinAsync_Interrupted_ThrowsFiberInterruptedExceptionWithTheInterruptor()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var fiber = scope.Fork(async ctx =>
        {
            await ctx.NeverAsync();
            return 1;
        });
        await scope.CloseAsync().DefaultTimeout();

        var thrown = await Assert.ThrowsAsync<FiberInterruptedException>(() => fiber.JoinAsync().DefaultTimeout());

        Assert.IsAssignableFrom<OperationCanceledException>(thrown);
        Assert.Equal(fiber.Id, thrown.FiberId);
        Assert.Equal(new Interruptor(InterruptorKind.Scope, scope.Id), thrown.Interruptor);
    }

    [Fact]
    public async Task InterruptAsync_FinallyStillRunning_ReturnsOnlyAfterTheFinallyCompleted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var started = Gate.Create();
        var inFinally = Gate.Create();
        var release = Gate.Create();
        var finallyCompleted = false;
        var fiber = runtime.ForkDaemon(async ctx =>
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
                Volatile.Write(ref finallyCompleted, true);
            }
        });
        await started.Task.DefaultTimeout();

        var interrupting = fiber.InterruptAsync().AsTask();
        await inFinally.Task.DefaultTimeout();
        Assert.False(interrupting.IsCompleted);
        release.SetResult();
        var exit = await interrupting.DefaultTimeout();

        Assert.True(Volatile.Read(ref finallyCompleted));
        Assert.True(exit.IsInterrupted);
    }

    [Fact]
    public async Task Interrupt_FinallyStillRunning_ReturnsAtOnceWithoutWaiting()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var started = Gate.Create();
        var release = Gate.Create();
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            try
            {
                started.SetResult();
                await ctx.NeverAsync();
            }
            finally
            {
                await release.Task;
            }
        });
        await started.Task.DefaultTimeout();

        // Called on a pool thread so that a blocking Interrupt fails the test instead of hanging it.
        await Task.Run(() => fiber.Interrupt()).DefaultTimeout();

        Assert.True(fiber.IsInterruptRequested);
        Assert.False(fiber.IsDone);
        release.SetResult();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();
        Assert.Equal(Interruptor.External, exit.Interruptor);
    }

    [Fact]
    public async Task Interrupt_BeforeTheBodyStarts_BodyNeverRunsAndExitIsInterrupted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var ran = false;
        Func<FiberContext, Task> body = _ =>
        {
            ran = true;
            return Task.CompletedTask;
        };

        // Created and registered but not queued yet: the state of a fiber waiting for a pool thread.
        var fiber = runtime.CreateCore<Unit>(null, runtime.GlobalScope, body);
        fiber.Interrupt();
        fiber.Start();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.False(ran);
        Assert.True(exit.IsInterrupted);
        Assert.Equal(Interruptor.External, exit.Interruptor);
    }

    [Fact]
    public async Task InterruptAsync_FiberAlreadySucceeded_ReturnsItsOriginalExit()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(_ => Task.FromResult(7));
        await fiber.AwaitAsync().DefaultTimeout();

        var exit = await fiber.InterruptAsync().DefaultTimeout();

        Assert.True(exit.IsSuccess);
        Assert.Equal(Interruptor.None, exit.Interruptor);
        Assert.Equal(7, await fiber.JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task InterruptAsync_FiberAlreadyFailed_ReturnsItsOriginalFailure()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("boom");
        var fiber = runtime.ForkDaemon<int>(_ => throw boom);
        await fiber.AwaitAsync().DefaultTimeout();

        var exit = await fiber.InterruptAsync().DefaultTimeout();

        Assert.True(exit.IsFailure);
        Assert.Same(boom, exit.Exception);
    }

    [Fact]
    public async Task Body_ThrowsItsOwnOperationCanceledException_IsAFailureNotAnInterruption()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        using var own = new CancellationTokenSource();
        await own.CancelAsync();

        var fiber = runtime.ForkDaemon(async _ =>
        {
            await Task.Yield();
            own.Token.ThrowIfCancellationRequested();
        });
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.Equal(ExitKind.Failure, exit.Kind);
        Assert.IsType<OperationCanceledException>(exit.Exception);
        Assert.False(fiber.IsInterruptRequested);
        await Assert.ThrowsAsync<OperationCanceledException>(() => fiber.JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task Status_WhileInDelayAsync_IsSuspended_ThenDone()
    {
        var clock = new FakeTimeProvider();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(async ctx => await ctx.DelayAsync(TimeSpan.FromSeconds(1)));

        await fiber.ParkedAsync();
        Assert.Equal(FiberStatus.Suspended, fiber.Status);
        await clock.AdvanceAsync(TimeSpan.FromSeconds(1));
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(exit.IsSuccess);
        Assert.Equal(FiberStatus.Done, fiber.Status);
    }

    [Fact]
    public async Task NeverAsync_Interrupted_ResumesOnlyAfterTheTokensCallbacksRan_AndThrowsForTheFibersToken()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var callbackEntered = Gate.Create();
        using var releaseCallback = new ManualResetEventSlim();
        var resumed = false;
        var tokenMatches = false;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            using var registration = ctx.CancellationToken.Register(() =>
            {
                callbackEntered.SetResult();
                releaseCallback.Wait(TestTimeouts.Default);
            });
            try
            {
                await ctx.NeverAsync();
            }
            catch (OperationCanceledException exception)
            {
                Volatile.Write(ref resumed, true);
                tokenMatches = exception.CancellationToken == ctx.CancellationToken;
                throw;
            }
        });
        await fiber.ParkedAsync();

        var interrupting = Task.Run(() => fiber.Interrupt());
        await callbackEntered.Task.DefaultTimeout();
        // The interrupt is inside the token's callbacks: the parked fiber has not been resumed yet
        // (a registration disposed by a resumed body could otherwise drop callbacks not yet run).
        Assert.False(Volatile.Read(ref resumed));
        Assert.Equal(FiberStatus.Suspended, fiber.Status);
        releaseCallback.Set();
        await interrupting.DefaultTimeout();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.True(resumed);
        Assert.True(tokenMatches);
    }

    [Fact]
    public async Task TwoRuntimeWaitsAtOnce_OneElapses_TheOtherIsCancelledByTheInterrupt()
    {
        var clock = new FakeTimeProvider();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        Task? delay = null;
        Task? never = null;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            delay = ctx.DelayAsync(TimeSpan.FromSeconds(1)).AsTask(); // takes the fiber's wait slot
            never = ctx.NeverAsync().AsTask(); // the slot is taken: waits on the token
            await Task.WhenAll(delay, never);
        });

        // The delay's timer exists once AsTask() has returned, before the second wait starts.
        await TestTimeouts.UntilAsync(() => Volatile.Read(ref never) is not null, "both waits started");
        var (delayTask, neverTask) = (Volatile.Read(ref delay)!, Volatile.Read(ref never)!);
        await clock.AdvanceAsync(TimeSpan.FromSeconds(1));
        await delayTask.DefaultTimeout();
        Assert.False(neverTask.IsCompleted);
        var exit = await fiber.InterruptAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.True(neverTask.IsCanceled);
        Assert.True(delayTask.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task NeverAsync_AfterAnElapsedDelay_TakesTheFreedSlotAndIsInterrupted()
    {
        var clock = new TimerCountingClock();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            await ctx.DelayAsync(TimeSpan.FromSeconds(1));
            await ctx.NeverAsync();
        });

        await clock.AdvanceWhenParkedAsync(TimeSpan.FromSeconds(1), () => fiber);
        await TestTimeouts.UntilAsync(() => clock.ActiveTimerCount == 0 && fiber.Status == FiberStatus.Suspended, "parked in NeverAsync");
        var exit = await fiber.InterruptAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
    }

    [Fact]
    public async Task Status_WhileInNeverAsync_IsSuspended_ThenDoneWhenInterrupted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        await fiber.ParkedAsync();
        Assert.Equal(FiberStatus.Suspended, fiber.Status);
        await fiber.InterruptAsync().DefaultTimeout();

        Assert.Equal(FiberStatus.Done, fiber.Status);
    }

    [Fact]
    public async Task Status_AwaitingATaskOutsideTheRuntime_IsRunning()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var started = Gate.Create();
        var release = Gate.Create();
        var fiber = runtime.ForkDaemon(async _ =>
        {
            started.SetResult();
            await release.Task;
        });

        await started.Task.DefaultTimeout();
        Assert.Equal(FiberStatus.Running, fiber.Status);
        release.SetResult();
        await fiber.AwaitExitAsync().DefaultTimeout();
        Assert.Equal(FiberStatus.Done, fiber.Status);
    }

    [Fact]
    public async Task Fork_ParentBodyEnds_ChildInterruptedAndItsFinallyRunsBeforeTheParentIsDone()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var childInFinally = Gate.Create();
        var release = Gate.Create();
        var childFinallyCompleted = false;
        Fiber<Unit>? child = null;
        var parent = runtime.ForkDaemon(async ctx =>
        {
            var childStarted = Gate.Create();
            child = ctx.Fork(async c =>
            {
                try
                {
                    childStarted.SetResult();
                    await c.NeverAsync();
                }
                finally
                {
                    childInFinally.SetResult();
                    await release.Task;
                    Volatile.Write(ref childFinallyCompleted, true);
                }
            });
            await childStarted.Task;
            return "parent done";
        });

        await childInFinally.Task.DefaultTimeout(); // the parent's body has returned: it interrupts children as it ends
        var parentExit = parent.AwaitAsync().AsTask();
        Assert.False(parent.IsDone);
        Assert.False(parentExit.IsCompleted);
        release.SetResult();
        var exit = await parentExit.DefaultTimeout();

        Assert.True(Volatile.Read(ref childFinallyCompleted));
        Assert.Equal("parent done", exit.Value);
        var childExit = await child!.AwaitExitAsync().DefaultTimeout();
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), childExit.Interruptor);
    }

    [Fact]
    public async Task Fork_AfterTheParentEnded_ChildInterruptedAtOnceAndNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        FiberContext saved = default;
        var parent = runtime.ForkDaemon(ctx =>
        {
            saved = ctx;
            return Task.CompletedTask;
        });
        await parent.AwaitExitAsync().DefaultTimeout();
        var ran = false;

        var late = saved.Fork(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        var exit = await late.AwaitExitAsync().DefaultTimeout();

        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), exit.Interruptor);
    }

    [Fact]
    public async Task Fork_AsyncLocalSetByTheForker_FlowsIntoDaemonsChildrenAndCollectionMembers()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        s_flowed.Value = "test";

        var daemon = runtime.ForkDaemon(_ => Task.FromResult(s_flowed.Value));
        var member = set.Run(_ => Task.FromResult(s_flowed.Value));
        var parent = runtime.ForkDaemon(async ctx =>
        {
            s_flowed.Value = "parent";
            var child = ctx.Fork(_ => Task.FromResult(s_flowed.Value));
            return await child.JoinAsync();
        });

        Assert.Equal("test", await daemon.JoinAsync().DefaultTimeout());
        Assert.Equal("test", await member.JoinAsync().DefaultTimeout());
        Assert.Equal("parent", await parent.JoinAsync().DefaultTimeout());
        Assert.Equal("test", s_flowed.Value); // a fiber's own changes stay in the fiber
    }

    [Fact]
    public async Task AwaitExitAsync_WaitCancelled_ThrowsWhileTheFiberKeepsRunning()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());
        using var stop = new CancellationTokenSource();

        var waiting = fiber.AwaitExitAsync(stop.Token).AsTask();
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.DefaultTimeout());
        Assert.False(fiber.IsDone);
        Assert.False(fiber.IsInterruptRequested);
    }
}
