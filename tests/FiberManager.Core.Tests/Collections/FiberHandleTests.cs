using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Collections;

/// <summary>The single-slot twin of FiberMap: the same replace, only-if-missing and identity rules.</summary>
public sealed class FiberHandleTests
{
    [Fact]
    public async Task Run_EmptySlot_StoresTheFiberUntilItEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var release = Gate.Create();

        var fiber = handle.Run(async _ =>
        {
            await release.Task;
            return 1;
        });
        Assert.Same(fiber, handle.Fiber);
        release.SetResult();
        await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.Null(handle.Fiber);
        await handle.AwaitEmptyAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Run_SlotTaken_StoresTheNewFiberBeforeInterruptingTheOld()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        Fiber? seenByCancellationCallback = null;
        var old = handle.Run(async ctx =>
        {
            using var registration = ctx.CancellationToken.Register(() => seenByCancellationCallback = handle.Fiber);
            await ctx.NeverAsync();
        });
        await old.ParkedAsync();

        var replacement = handle.Run(async ctx => await ctx.NeverAsync());
        var oldExit = await old.AwaitExitAsync().DefaultTimeout();

        Assert.Same(replacement, seenByCancellationCallback);
        Assert.Same(replacement, handle.Fiber);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, handle.Id), oldExit.Interruptor);
    }

    [Fact]
    public async Task Run_OnlyIfMissingAndSlotTaken_LeavesTheRunningFiberAndTheNewBodyNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var running = handle.Run(async ctx => await ctx.NeverAsync());
        var ran = false;

        var rejected = handle.Run(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        }, onlyIfMissing: true);
        var exit = await rejected.AwaitExitAsync().DefaultTimeout();

        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, handle.Id), exit.Interruptor);
        Assert.Same(running, handle.Fiber);
        Assert.False(running.IsInterruptRequested);
    }

    [Fact]
    public async Task ReplacedFiber_EndingAfterItsSuccessorWasStored_LeavesTheSuccessorInTheSlot()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var oldInFinally = Gate.Create();
        var releaseOld = Gate.Create();
        var old = handle.Run(async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                oldInFinally.SetResult();
                await releaseOld.Task;
            }
        });
        await old.ParkedAsync();

        var successor = handle.Run(async ctx => await ctx.NeverAsync());
        await oldInFinally.Task.DefaultTimeout();
        releaseOld.SetResult();
        await old.AwaitExitAsync().DefaultTimeout();

        Assert.Same(successor, handle.Fiber);
        Assert.False(handle.AwaitEmptyAsync().IsCompleted);
    }

    [Fact]
    public async Task ClearAsync_SlotTaken_InterruptsAndAwaitsTheFiberAndTheHandleStaysOpen()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var finallyCompleted = false;
        var fiber = handle.Run(async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                await Task.Yield();
                Volatile.Write(ref finallyCompleted, true);
            }
        });
        await fiber.ParkedAsync();

        await handle.ClearAsync().DefaultTimeout();

        Assert.True(Volatile.Read(ref finallyCompleted));
        Assert.Null(handle.Fiber);
        Assert.False(handle.IsClosed);
        Assert.Equal(2, await handle.Run(_ => Task.FromResult(2)).JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task JoinAsync_FiberFails_FailsWithItsException_AndAnEmptySlotJoinsAtOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        Assert.True(handle.JoinAsync().IsCompletedSuccessfully);
        var boom = new TestException("boom");

        handle.Run(async _ =>
        {
            await Task.Yield();
            throw boom;
        });

        Assert.Same(boom, await Assert.ThrowsAsync<TestException>(() => handle.JoinAsync().DefaultTimeout()));
    }

    [Fact]
    public async Task Closed_RunAndSetAreRejected_AndOwningScopeCloseClosesTheHandle()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var handle = new FiberHandle(scope);
        var member = handle.Run(async ctx => await ctx.NeverAsync());

        await scope.CloseAsync().DefaultTimeout();
        var ran = false;
        var late = handle.Run(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        Assert.True(handle.IsClosed);
        Assert.True(member.IsDone);
        Assert.False(handle.Set(daemon));
        Assert.True((await late.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, handle.Id), (await daemon.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task RuntimeDelegates_RunInTheSlot()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var run = handle.Runtime<int>(onlyIfMissing: true);
        var runTask = handle.RuntimeTask<int>();

        var parked = run(async ctx =>
        {
            await ctx.NeverAsync();
            return 0;
        });
        var rejected = run(_ => Task.FromResult(1));
        Assert.Same(parked, handle.Fiber);
        Assert.True((await rejected.AwaitExitAsync().DefaultTimeout()).IsInterrupted);

        Assert.Equal(3, await runTask(_ => Task.FromResult(3)).DefaultTimeout()); // replaces the parked one
        Assert.True((await parked.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
    }

    [Fact]
    public async Task Set_SameFiberTwice_ChangesNothing()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var handle = new FiberHandle(runtime.CreateScope());
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        Assert.True(handle.Set(daemon));
        Assert.True(handle.Set(daemon));

        Assert.False(daemon.IsInterruptRequested);
        Assert.Same(daemon, handle.Fiber);
    }
}
