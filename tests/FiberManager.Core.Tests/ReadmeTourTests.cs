using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests;

/// <summary>The README's in-process snippets, run as written (on a manual clock where they sleep).</summary>
public sealed class ReadmeTourTests
{
    [Fact]
    public async Task FibersInThirtySeconds_ParentReturns42_TickerInterrupted_SetJoins()
    {
        var clock = new FakeTimeProvider();
        await using var runtime = new FiberRuntime(clock);
        var ticks = 0;
        Fiber<Unit>? tickerFiber = null;
        var parent = runtime.ForkDaemon(async ctx =>
        {
            tickerFiber = ctx.Fork(async c =>
            {
                while (true)
                {
                    Interlocked.Increment(ref ticks);
                    await c.DelayAsync(TimeSpan.FromSeconds(1));
                }
            });
            await ctx.DelayAsync(TimeSpan.FromSeconds(3));
            return 42;
        });

        for (var i = 0; i < 3; i++)
        {
            // Both sleeps armed (the ticker re-arms after each tick) before the clock moves on.
            await clock.AdvanceWhenParkedAsync(TimeSpan.FromSeconds(1), () => parent, () => tickerFiber);
        }

        Assert.Equal(42, await parent.JoinAsync().DefaultTimeout());
        Assert.Equal(3, ticks);
        Assert.True((await tickerFiber!.AwaitExitAsync().DefaultTimeout()).IsInterrupted);

        await using var scope = runtime.CreateScope();
        var jobs = new FiberSet(scope);
        var ran = 0;
        for (var i = 0; i < 10; i++)
        {
            jobs.Run(ctx => Task.FromResult(Interlocked.Increment(ref ran)));
        }

        await jobs.JoinAsync().DefaultTimeout();
        Assert.Equal(10, ran);
        Assert.Equal(0, jobs.Count);
    }

    [Fact]
    public async Task ManagerInProcess_UpperWorkflow_SubscriberSeesHello()
    {
        await using var manager = new FiberSupervisor<string, string>(new FiberSupervisorOptions { MaxConcurrentFibers = 100 });
        var upper = Workflow.Create<string, string>(async ctx =>
        {
            await foreach (var text in ctx.Input.ReadAllAsync(ctx.CancellationToken))
            {
                ctx.Publish(text.ToUpperInvariant());
            }
        });
        await manager.StartAsync("chat-1", "upper", upper).DefaultTimeout();
        using var subscription = manager.Subscribe("chat-1");
        await manager.SubmitAsync("chat-1", "hello").DefaultTimeout();

        await using var events = subscription.ReadAllAsync().GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
        Assert.Equal(FiberEventKind.Output, events.Current.Kind);
        Assert.Equal("HELLO", events.Current.Output);
    }
}
