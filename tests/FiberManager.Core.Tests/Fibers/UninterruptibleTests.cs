using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Fibers;

/// <summary>An interruption requested inside an uninterruptible region takes effect when the region ends.</summary>
public sealed class UninterruptibleTests
{
    [Fact]
    public async Task Interrupt_InsideRegion_TokenCancelledOnlyWhenTheRegionIsDisposed()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var entered = Gate.Create();
        var proceed = Gate.Create();
        var inRegion = true;
        var callbackRanInRegion = false;
        bool? cancelledInRegion = null;
        bool? cancelledAfterRegion = null;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            var token = ctx.CancellationToken;
            using var registration = token.Register(() => callbackRanInRegion |= Volatile.Read(ref inRegion));
            var region = ctx.Uninterruptible();
            entered.SetResult();
            await proceed.Task;
            cancelledInRegion = token.IsCancellationRequested;
            Volatile.Write(ref inRegion, false);
            region.Dispose();
            cancelledAfterRegion = token.IsCancellationRequested; // at once, not at the next wait
            await ctx.NeverAsync();
        });
        await entered.Task.DefaultTimeout();

        var interrupting = fiber.InterruptAsync().AsTask();
        Assert.True(fiber.IsInterruptRequested);
        Assert.False(interrupting.IsCompleted);
        proceed.SetResult();
        var exit = await interrupting.DefaultTimeout();

        Assert.False(cancelledInRegion);
        Assert.False(callbackRanInRegion);
        Assert.True(cancelledAfterRegion);
        Assert.True(exit.IsInterrupted);
        Assert.Equal(Interruptor.External, exit.Interruptor);
    }

    [Fact]
    public async Task Interrupt_InsideNestedRegions_TakesEffectOnlyWhenTheOutermostEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var entered = Gate.Create();
        var proceed = Gate.Create();
        bool? cancelledAfterInner = null;
        bool? cancelledAfterOuter = null;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            var outer = ctx.Uninterruptible();
            var inner = ctx.Uninterruptible();
            entered.SetResult();
            await proceed.Task;
            inner.Dispose();
            cancelledAfterInner = ctx.CancellationToken.IsCancellationRequested;
            outer.Dispose();
            cancelledAfterOuter = ctx.CancellationToken.IsCancellationRequested;
            await ctx.NeverAsync();
        });
        await entered.Task.DefaultTimeout();

        fiber.Interrupt();
        proceed.SetResult();
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.False(cancelledAfterInner);
        Assert.True(cancelledAfterOuter);
        Assert.True(exit.IsInterrupted);
    }

    [Fact]
    public async Task Interrupt_BeforeTheTokenIsFirstReadInsideRegion_TokenStartsUncancelledAndIsCancelledAtRegionEnd()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var entered = Gate.Create();
        var proceed = Gate.Create();
        bool? cancelledWhenCreated = null;
        bool? cancelledAfterRegion = null;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            using (ctx.Uninterruptible())
            {
                entered.SetResult();
                await proceed.Task;
                cancelledWhenCreated = ctx.CancellationToken.IsCancellationRequested; // the token is created lazily, here
            }

            cancelledAfterRegion = ctx.CancellationToken.IsCancellationRequested;
            await ctx.NeverAsync();
        });
        await entered.Task.DefaultTimeout();

        fiber.Interrupt();
        proceed.SetResult();
        await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.False(cancelledWhenCreated);
        Assert.True(cancelledAfterRegion);
    }

    [Fact]
    public async Task Interrupt_DuringADelayInsideRegion_DelayRunsToItsEndThenTheFiberStops()
    {
        var clock = new TimerCountingClock();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        var delayCompleted = false;
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            using (ctx.Uninterruptible())
            {
                await ctx.DelayAsync(TimeSpan.FromSeconds(1));
                delayCompleted = true;
            }

            await ctx.NeverAsync();
        });
        await fiber.ParkedAsync();

        fiber.Interrupt();
        Assert.Equal(1, clock.ActiveTimerCount); // the delay was not cut short
        await clock.AdvanceAsync(TimeSpan.FromSeconds(1));
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(delayCompleted);
        Assert.True(exit.IsInterrupted);
    }

    [Fact]
    public async Task Region_WithoutInterrupt_TokenNeverCancelledAndTheFiberSucceeds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var fiber = runtime.ForkDaemon(async ctx =>
        {
            using (ctx.Uninterruptible())
            {
                await Task.Yield();
            }

            return ctx.CancellationToken.IsCancellationRequested;
        });

        var exit = await fiber.AwaitAsync().DefaultTimeout();

        Assert.True(exit.IsSuccess);
        Assert.False(exit.Value);
    }
}
