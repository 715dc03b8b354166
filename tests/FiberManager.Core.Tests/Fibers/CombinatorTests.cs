using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests.Fibers;

/// <summary>AllAsync, RaceAsync and TimeoutAsync: children are interrupted and awaited before a combinator returns or throws.</summary>
public sealed class CombinatorTests
{
    [Fact]
    public async Task AllAsync_ChildrenFinishInReverseOrder_ReturnsResultsInInputOrder()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var gates = Enumerable.Range(0, 3).Select(_ => Gate.Create<int>()).ToArray();
        var children = new Fiber?[3];
        var started = 0;
        var allStarted = Gate.Create();
        var parent = runtime.ForkDaemon(ctx => ctx.AllAsync(Enumerable.Range(0, 3).Select(i => (Func<FiberContext, Task<int>>)(c =>
        {
            children[i] = c.Fiber;
            if (Interlocked.Increment(ref started) == 3)
            {
                allStarted.SetResult();
            }

            return gates[i].Task;
        }))));
        await allStarted.Task.DefaultTimeout();

        for (var i = 2; i >= 0; i--)
        {
            gates[i].SetResult((i + 1) * 10);
            await children[i]!.AwaitExitAsync().DefaultTimeout();
        }

        Assert.Equal(new[] { 10, 20, 30 }, await parent.JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task AllAsync_NoBodies_ReturnsEmpty()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();

        var parent = runtime.ForkDaemon(ctx => ctx.AllAsync(Array.Empty<Func<FiberContext, Task<int>>>()));

        Assert.Empty(await parent.JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task RaceAsync_FirstSuccessWins_LosersInterruptedAndAwaitedBeforeItReturns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var winnerGate = Gate.Create();
        var loserStarted = Gate.Create();
        var loserFinallyCompleted = false;
        Fiber? loser = null;
        var parent = runtime.ForkDaemon(async ctx =>
        {
            var winner = await ctx.RaceAsync(
                async _ =>
                {
                    await winnerGate.Task;
                    return "fast";
                },
                async c =>
                {
                    loser = c.Fiber;
                    try
                    {
                        loserStarted.SetResult();
                        await c.NeverAsync();
                        return "slow";
                    }
                    finally
                    {
                        await Task.Yield();
                        Volatile.Write(ref loserFinallyCompleted, true);
                    }
                });
            return (winner, Volatile.Read(ref loserFinallyCompleted));
        });
        await loserStarted.Task.DefaultTimeout();

        winnerGate.SetResult();
        var (result, loserDoneBeforeReturn) = await parent.JoinAsync().DefaultTimeout();

        Assert.Equal("fast", result);
        Assert.True(loserDoneBeforeReturn);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), (await loser!.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task RaceAsync_FirstRacerFails_DoesNotWinWhileAnotherCanStillSucceed()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        Fiber? failing = null;
        var failingForked = Gate.Create();
        var parent = runtime.ForkDaemon(ctx => ctx.RaceAsync(
            async c =>
            {
                failing = c.Fiber;
                failingForked.SetResult();
                await Task.Yield();
                throw new TestException("fails first");
            },
            async _ =>
            {
                await failingForked.Task;
                await failing!.AwaitExitAsync();
                return "second";
            }));

        Assert.Equal("second", await parent.JoinAsync().DefaultTimeout());
        Assert.True((await failing!.AwaitExitAsync().DefaultTimeout()).IsFailure);
    }

    [Fact]
    public async Task RaceAsync_EveryRacerFails_ThrowsAggregateOfAllFailuresInRacerOrder()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var first = new TestException("first");
        var second = new TestException("second");

        var parent = runtime.ForkDaemon(ctx => ctx.RaceAsync<int>(
            async _ =>
            {
                await Task.Yield();
                throw first;
            },
            _ => throw second));
        var thrown = await Assert.ThrowsAsync<AggregateException>(() => parent.JoinAsync().DefaultTimeout());

        Assert.Equal(new Exception[] { first, second }, thrown.InnerExceptions);
    }

    [Fact]
    public async Task TimeoutAsync_BodyEndsInTime_ReturnsItsValueAndDropsTheTimer()
    {
        var clock = new TimerCountingClock();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        Fiber? body = null;
        var parent = runtime.ForkDaemon(ctx => ctx.TimeoutAsync(TimeSpan.FromSeconds(5), async c =>
        {
            body = c.Fiber;
            await c.DelayAsync(TimeSpan.FromSeconds(1));
            return 7;
        }));
        await Parking.ParkedAsync(() => parent, () => body); // the parent on the timeout's timer, the body on its delay

        await clock.AdvanceAsync(TimeSpan.FromSeconds(1));

        Assert.Equal(7, await parent.JoinAsync().DefaultTimeout());
        Assert.Equal(0, clock.ActiveTimerCount);
    }

    [Fact]
    public async Task TimeoutAsync_BodyTooSlow_ThrowsTimeoutExceptionAfterTheBodyWasInterruptedAndItsFinallyRan()
    {
        var clock = new FakeTimeProvider();
        var runtime = new FiberRuntime(clock);
        await using var cleanup = runtime.DisposeBounded();
        Fiber? body = null;
        var finallyCompleted = false;
        bool? finallyCompletedWhenTimedOut = null;
        var parent = runtime.ForkDaemon(async ctx =>
        {
            try
            {
                return await ctx.TimeoutAsync(TimeSpan.FromSeconds(5), async c =>
                {
                    body = c.Fiber;
                    try
                    {
                        await c.DelayAsync(TimeSpan.FromSeconds(10));
                        return 1;
                    }
                    finally
                    {
                        await Task.Yield();
                        Volatile.Write(ref finallyCompleted, true);
                    }
                });
            }
            catch (TimeoutException)
            {
                finallyCompletedWhenTimedOut = Volatile.Read(ref finallyCompleted);
                throw;
            }
        });
        await Parking.ParkedAsync(() => parent, () => body);

        await clock.AdvanceAsync(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAsync<TimeoutException>(() => parent.JoinAsync().DefaultTimeout());
        Assert.True(finallyCompletedWhenTimedOut);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), (await body!.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task AllAsync_OneChildFails_InterruptsAndAwaitsTheOthersThenRethrowsThatFailure()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var boom = new TestException("second child failed");
        var firstStarted = Gate.Create();
        var finallyCompleted = false;
        bool? finallyCompletedWhenAllThrew = null;
        Fiber? first = null;
        var parent = runtime.ForkDaemon(async ctx =>
        {
            try
            {
                await ctx.AllAsync(new Func<FiberContext, Task<int>>[]
                {
                    async c =>
                    {
                        first = c.Fiber;
                        try
                        {
                            firstStarted.SetResult();
                            await c.NeverAsync();
                            return 1;
                        }
                        finally
                        {
                            await Task.Yield();
                            Volatile.Write(ref finallyCompleted, true);
                        }
                    },
                    async _ =>
                    {
                        await firstStarted.Task;
                        throw boom;
                    },
                    async c =>
                    {
                        await c.NeverAsync();
                        return 3;
                    },
                });
            }
            catch (TestException)
            {
                finallyCompletedWhenAllThrew = Volatile.Read(ref finallyCompleted);
                throw;
            }
        });

        var thrown = await Assert.ThrowsAsync<TestException>(() => parent.JoinAsync().DefaultTimeout());

        Assert.Same(boom, thrown);
        Assert.True(finallyCompletedWhenAllThrew);
        Assert.Equal(new Interruptor(InterruptorKind.Fiber, parent.Id), (await first!.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("race")]
    [InlineData("timeout")]
    public async Task ParentInterruptedWhileAwaitingACombinator_ChildrenInterruptedAndAwaitedBeforeItThrows(string combinator)
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var children = combinator == "timeout" ? 1 : 2;
        var started = 0;
        var allStarted = Gate.Create();
        var finallyCompleted = 0;
        int? finallyCompletedWhenThrown = null;
        Func<FiberContext, Task<int>> child = async c =>
        {
            try
            {
                if (Interlocked.Increment(ref started) == children)
                {
                    allStarted.SetResult();
                }

                await c.NeverAsync();
                return 0;
            }
            finally
            {
                await Task.Yield();
                Interlocked.Increment(ref finallyCompleted);
            }
        };
        var parent = runtime.ForkDaemon(async ctx =>
        {
            try
            {
                switch (combinator)
                {
                    case "all":
                        await ctx.AllAsync(new[] { child, child });
                        break;
                    case "race":
                        await ctx.RaceAsync(child, child);
                        break;
                    default:
                        await ctx.TimeoutAsync(TimeSpan.FromHours(1), child);
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                finallyCompletedWhenThrown = Volatile.Read(ref finallyCompleted);
                throw;
            }
        });
        await allStarted.Task.DefaultTimeout();

        var exit = await parent.InterruptAsync().DefaultTimeout();

        Assert.True(exit.IsInterrupted);
        Assert.Equal(children, finallyCompletedWhenThrown);
    }
}
