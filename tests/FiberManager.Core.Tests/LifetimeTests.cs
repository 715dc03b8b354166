using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests;

/// <summary>The four lifetime strategies, replaying the scenarios of the Effect fibers documentation on a manual clock.</summary>
public sealed class LifetimeTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    // barJob: "still running!" now, then every second, forever.
    private static Func<FiberContext, Task> Ticker(Action tick) => async ctx =>
    {
        while (true)
        {
            tick();
            await ctx.DelayAsync(Second);
        }
    };

    [Fact]
    public async Task Fork_ChildTickingEverySecond_InterruptedWhenParentFinishesAtThreeSeconds()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        Fiber<Unit>? bar = null;
        var foo = runtime.ForkDaemon(async ctx =>
        {
            bar = ctx.Fork(Ticker(() => Interlocked.Increment(ref ticks)));
            await ctx.DelayAsync(3 * Second);
        });

        await Parking.ParkedAsync(() => foo, () => bar); // foo sleeps, bar ticked once and sleeps
        for (var i = 0; i < 3; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        await foo.JoinAsync().DefaultTimeout();
        var barExit = await bar!.AwaitExitAsync().DefaultTimeout();

        Assert.Equal(3, ticks);
        Assert.True(barExit.IsInterrupted);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, foo.Id), barExit.Interruptor);
    }

    [Fact]
    public async Task ForkDaemon_ChildKeepsTicking_AfterParentEnds()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        Fiber<Unit>? bar = null;
        var foo = runtime.ForkDaemon(async ctx =>
        {
            bar = ctx.ForkDaemon(Ticker(() => Interlocked.Increment(ref ticks)));
            await ctx.DelayAsync(3 * Second);
        });

        await Parking.ParkedAsync(() => foo, () => bar);
        for (var i = 0; i < 3; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        await foo.JoinAsync().DefaultTimeout();
        Assert.Equal(4, ticks); // t = 0, 1, 2, 3: the daemon was not interrupted at 3 s
        for (var i = 0; i < 5; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        Assert.Equal(9, ticks);
        Assert.False(bar!.IsDone);
        var exit = await bar.InterruptAsync().DefaultTimeout();
        Assert.True(exit.IsInterrupted);
    }

    [Fact]
    public async Task ForkDaemon_ChildKeepsTicking_AfterParentIsInterruptedAtTwoSeconds()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        var fooInterrupted = false;
        Fiber<Unit>? foo = null;
        Fiber<Unit>? bar = null;
        var program = runtime.ForkDaemon(async ctx =>
        {
            foo = ctx.Fork(async c =>
            {
                bar = c.ForkDaemon(Ticker(() => Interlocked.Increment(ref ticks)));
                try
                {
                    await c.DelayAsync(3 * Second);
                }
                catch (OperationCanceledException)
                {
                    fooInterrupted = true;
                    throw;
                }
            });
            await ctx.DelayAsync(2 * Second);
            return await foo.InterruptAsync();
        });

        await Parking.ParkedAsync(() => program, () => foo, () => bar);
        await clock.AdvanceAsync(Second);
        await clock.AdvanceAsync(Second);
        var fooExit = await program.JoinAsync().DefaultTimeout();
        Assert.True(fooExit.IsInterrupted);
        Assert.True(fooInterrupted);
        Assert.Equal(3, ticks); // t = 0, 1, 2

        for (var i = 0; i < 5; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        Assert.Equal(8, ticks);
        Assert.False(bar!.IsDone);
    }

    [Fact]
    public async Task ForkScoped_ChildOutlivesParent_AndEndsWhenScopeClosesAtFiveSeconds()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        var ticksWhenFooFinished = -1;
        Fiber<Unit>? foo = null;
        Fiber<Unit>? bar = null;
        var program = runtime.ForkDaemon(ctx => ctx.ScopedAsync(async local =>
        {
            foo = local.Fork(async c =>
            {
                bar = c.ForkScoped(Ticker(() => Interlocked.Increment(ref ticks)));
                await c.DelayAsync(3 * Second);
                ticksWhenFooFinished = Volatile.Read(ref ticks);
            });
            await local.DelayAsync(5 * Second);
        }));

        await Parking.ParkedAsync(() => program, () => foo, () => bar);
        for (var i = 0; i < 3; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        await foo!.JoinAsync().DefaultTimeout();
        Assert.False(bar!.IsDone); // outlived its parent
        await clock.AdvanceAsync(Second);
        await clock.AdvanceAsync(Second);
        await program.JoinAsync().DefaultTimeout();
        var barExit = await bar.AwaitExitAsync().DefaultTimeout();

        Assert.Equal(3, ticksWhenFooFinished); // as in the documentation: three ticks, then "Foo: finished!"
        Assert.Equal(5, ticks); // t = 0..4, then the scope closed at 5 s
        Assert.True(barExit.IsInterrupted);
        Assert.Equal(InterruptorKind.Scope, barExit.Interruptor.Kind);
    }

    [Fact]
    public async Task ForkIn_ChildForkedFromInnerScopeIntoOuter_SurvivesInnerCloseAndEndsWithOuter()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        var ticksAtInnerClose = -1;
        Fiber<Unit>? bar = null;
        var program = runtime.ForkDaemon(ctx => ctx.ScopedAsync(async outer =>
        {
            var outerScope = outer.Scope;
            await outer.ScopedAsync(async inner =>
            {
                bar = inner.ForkIn(outerScope, Ticker(() => Interlocked.Increment(ref ticks)));
                await inner.DelayAsync(3 * Second);
                ticksAtInnerClose = Volatile.Read(ref ticks); // "The innermost scope is about to be closed."
            });
            Assert.False(bar!.IsDone); // survived the inner scope's close
            await outer.DelayAsync(5 * Second);
        }));

        await Parking.ParkedAsync(() => program, () => bar);
        for (var i = 0; i < 3; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        // The inner scope closed at 3 s; closing completes asynchronously, so wait until the
        // program has parked on its 5 s delay (bar parks again on its next tick) before moving on.
        await Parking.ParkedAsync(() => program, () => bar);
        for (var i = 0; i < 5; i++)
        {
            await clock.AdvanceAsync(Second);
        }

        await program.JoinAsync().DefaultTimeout();
        var barExit = await bar!.AwaitExitAsync().DefaultTimeout();
        Assert.Equal(3, ticksAtInnerClose); // three ticks, then "The innermost scope is about to be closed."
        Assert.Equal(8, ticks); // t = 0..7; the outer scope closed at 8 s
        Assert.True(barExit.IsInterrupted);
    }
}
