using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Collections;

/// <summary>A self-cleaning set of fibers: run/add, count, await-empty, clear, join, close, runtime delegates.</summary>
public sealed class FiberSetTests
{
    [Fact]
    public async Task Run_MemberRunning_CountsIt_AndItLeavesBeforeItsAwaitersWake()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var release = Gate.Create();

        var fiber = set.Run(async _ =>
        {
            await release.Task;
            return 5;
        });
        Assert.Equal(1, set.Count);
        release.SetResult();

        Assert.Equal(5, await fiber.JoinAsync().DefaultTimeout());
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task TryAdd_FiberForkedElsewhere_IsAMemberUntilItEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var release = Gate.Create();
        var daemon = runtime.ForkDaemon(_ => release.Task);

        Assert.True(set.TryAdd(daemon));
        Assert.Equal(1, set.Count);
        release.SetResult();
        await daemon.AwaitExitAsync().DefaultTimeout();

        Assert.Equal(0, set.Count);
        await set.AwaitEmptyAsync().DefaultTimeout();
    }

    [Fact]
    public async Task TryAdd_FiberThatAlreadyEnded_LeavesAtOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var done = runtime.ForkDaemon(_ => Task.CompletedTask);
        await done.AwaitExitAsync().DefaultTimeout();

        Assert.True(set.TryAdd(done));

        Assert.Equal(0, set.Count);
        await set.AwaitEmptyAsync().DefaultTimeout();
        await set.JoinAsync().DefaultTimeout();
    }

    [Fact]
    public async Task AwaitEmptyAsync_EmptySet_CompletesAtOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());

        var empty = set.AwaitEmptyAsync();

        Assert.True(empty.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AwaitEmptyAsync_Members_CompletesOnlyWhenTheLastOneEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var first = Gate.Create();
        var second = Gate.Create();
        var a = set.Run(_ => first.Task);
        set.Run(_ => second.Task);

        var empty = set.AwaitEmptyAsync();
        first.SetResult();
        await a.AwaitExitAsync().DefaultTimeout();
        Assert.False(empty.IsCompleted);
        second.SetResult();

        await empty.DefaultTimeout();
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task ClearAsync_Members_InterruptsAllAwaitsTheirFinallyAndTheSetStaysOpen()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var release = Gate.Create();
        var finallyCompleted = 0;
        var fibers = Enumerable.Range(0, 3).Select(_ => set.Run(async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                await release.Task;
                Interlocked.Increment(ref finallyCompleted);
            }
        })).ToArray();
        foreach (var fiber in fibers)
        {
            await fiber.ParkedAsync();
        }

        var clearing = set.ClearAsync();
        Assert.False(clearing.IsCompleted);
        release.SetResult();
        await clearing.DefaultTimeout();

        Assert.Equal(3, Volatile.Read(ref finallyCompleted));
        Assert.Equal(0, set.Count);
        Assert.False(set.IsClosed);
        foreach (var fiber in fibers)
        {
            Assert.Equal(new Interruptor(InterruptorKind.Collection, set.Id), (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
        }

        Assert.Equal(1, await set.Run(_ => Task.FromResult(1)).JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task JoinAsync_EmptySet_CompletesAtOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());

        var joining = set.JoinAsync();

        Assert.True(joining.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task JoinAsync_Members_CompletesWhenTheLastOneEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var first = Gate.Create();
        var second = Gate.Create();
        var a = set.Run(_ => first.Task);
        set.Run(_ => second.Task);

        var joining = set.JoinAsync();
        first.SetResult();
        await a.AwaitExitAsync().DefaultTimeout();
        Assert.False(joining.IsCompleted);
        second.SetResult();

        await joining.DefaultTimeout();
    }

    [Fact]
    public async Task JoinAsync_TwoMembersFail_FailsAtOnceWithTheFirstFailureAndKeepsIt()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var first = new TestException("first");
        var second = new TestException("second");
        var blocker = set.Run(async ctx => await ctx.NeverAsync());
        var joining = set.JoinAsync();

        var a = set.Run(async _ =>
        {
            await Task.Yield();
            throw first;
        });
        await a.AwaitExitAsync().DefaultTimeout();
        var thrown = await Assert.ThrowsAsync<TestException>(() => joining.DefaultTimeout());
        var b = set.Run(async _ =>
        {
            await Task.Yield();
            throw second;
        });
        await b.AwaitExitAsync().DefaultTimeout();
        await blocker.InterruptAsync().DefaultTimeout();
        var again = await Assert.ThrowsAsync<TestException>(() => set.JoinAsync().DefaultTimeout());

        Assert.Same(first, thrown);
        Assert.Same(first, again);
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task JoinAsync_MemberInterruptedFromOutsideWithoutPropagation_IgnoresIt()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var fiber = set.Run(async ctx => await ctx.NeverAsync());
        var joining = set.JoinAsync();

        await fiber.InterruptAsync().DefaultTimeout();

        await joining.DefaultTimeout();
        await set.JoinAsync().DefaultTimeout();
    }

    [Fact]
    public async Task JoinAsync_MemberInterruptedFromOutsideWithPropagation_FailsWithFiberInterruptedException()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var set = new FiberSet(scope);
        var external = set.Run(async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        var joining = set.JoinAsync();

        await external.InterruptAsync().DefaultTimeout();
        var thrown = await Assert.ThrowsAsync<FiberInterruptedException>(() => joining.DefaultTimeout());

        Assert.Equal(external.Id, thrown.FiberId);
        Assert.Equal(Interruptor.External, thrown.Interruptor);
    }

    [Fact]
    public async Task JoinAsync_PropagatingMembersInterruptedByClearCloseOrTheOwningScope_NeverCountsThem()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();

        var cleared = new FiberSet(runtime.CreateScope());
        cleared.Run(async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        cleared.Run(async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        await cleared.ClearAsync().DefaultTimeout();
        await cleared.JoinAsync().DefaultTimeout();

        var closed = new FiberSet(runtime.CreateScope());
        closed.Run(async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        await closed.CloseAsync().DefaultTimeout();
        await closed.JoinAsync().DefaultTimeout();

        var scope = runtime.CreateScope();
        var scoped = new FiberSet(scope);
        scoped.Run(async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        await scope.CloseAsync().DefaultTimeout();
        await scoped.JoinAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Run_AfterTheSetClosed_InterruptedAtOnceAndTheBodyNeverRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        await set.CloseAsync().DefaultTimeout();
        var ran = false;

        var fiber = set.Run(_ =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        var exit = await fiber.AwaitExitAsync().DefaultTimeout();

        Assert.True(set.IsClosed);
        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, set.Id), exit.Interruptor);
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task TryAdd_AfterTheSetClosed_ReturnsFalseAndInterruptsTheFiber()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        await set.CloseAsync().DefaultTimeout();
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        Assert.False(set.TryAdd(daemon));

        Assert.Equal(new Interruptor(InterruptorKind.Collection, set.Id), (await daemon.AwaitExitAsync().DefaultTimeout()).Interruptor);
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task OwningScopeCloses_SetClosesAndItsMembersAreInterruptedAndAwaited()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var set = new FiberSet(scope);
        var finallyCompleted = false;
        var fiber = set.Run(async ctx =>
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

        await scope.CloseAsync().DefaultTimeout();

        Assert.True(set.IsClosed);
        Assert.True(Volatile.Read(ref finallyCompleted));
        Assert.True(fiber.IsDone);
        Assert.Equal(0, set.Count);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, set.Id), (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task CloseAsync_StartedWhileAMemberIsEnding_CompletesOnlyAfterThatMemberLeft()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var gate = new TaskCompletionSource(); // completes the fiber inline, on the thread that sets it
        var fiber = runtime.ForkDaemon(_ => gate.Task);
        using var observerEntered = new ManualResetEventSlim();
        using var releaseObserver = new ManualResetEventSlim();
        // An observer registered before the set's own: while it runs, the fiber has ended but the set
        // has not yet been told.
        fiber.AddObserver(new BlockingObserver(observerEntered, releaseObserver));
        Assert.True(set.TryAdd(fiber));
        var completer = new Thread(gate.SetResult);
        completer.Start();
        Assert.True(observerEntered.Wait(TestTimeouts.Default));

        var closing = set.CloseAsync();
        var completedEarly = closing.IsCompleted;
        releaseObserver.Set();
        await closing.DefaultTimeout();
        Assert.True(completer.Join(TestTimeouts.Default));

        Assert.False(completedEarly);
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task Runtime_Delegate_ForksIntoTheSetWithItsPropagationSetting()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var run = set.Runtime<int>(propagateInterruption: true);
        var release = Gate.Create();

        var value = run(async _ =>
        {
            await release.Task;
            return 3;
        });
        var parked = run(async ctx =>
        {
            await ctx.NeverAsync();
            return 0;
        });
        Assert.Equal(2, set.Count);
        release.SetResult();
        Assert.Equal(3, await value.JoinAsync().DefaultTimeout());
        await parked.InterruptAsync().DefaultTimeout();

        await Assert.ThrowsAsync<FiberInterruptedException>(() => set.JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task RuntimeTask_Delegate_ReturnsTheValueOrTheFailureOfAMember()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var run = set.RuntimeTask<int>();
        var boom = new TestException("boom");

        Assert.Equal(4, await run(_ => Task.FromResult(4)).DefaultTimeout());
        var thrown = await Assert.ThrowsAsync<TestException>(() => run(_ => throw boom).DefaultTimeout());

        Assert.Same(boom, thrown);
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task TryAdd_FiberAlreadyInTheSet_ChangesNothingAndDoesNotInterruptIt()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        Assert.True(set.TryAdd(daemon));
        Assert.True(set.TryAdd(daemon));

        Assert.False(daemon.IsInterruptRequested);
        Assert.Equal(1, set.Count);
        await daemon.InterruptAsync().DefaultTimeout();
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task TryAdd_FiberRunInTheSet_ChangesNothingAndDoesNotInterruptIt()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var member = set.Run(async ctx => await ctx.NeverAsync());

        Assert.True(set.TryAdd(member, propagateInterruption: true));

        Assert.False(member.IsInterruptRequested);
        Assert.Equal(1, set.Count);
        await member.InterruptAsync().DefaultTimeout();
        Assert.Equal(0, set.Count);
        await set.JoinAsync().DefaultTimeout(); // still not propagating: the flag of the run stands
    }

    [Fact]
    public async Task TryAdd_FiberRunInAnotherSet_IsAMemberOfBothAndLeavesBoth()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var first = new FiberSet(runtime.CreateScope());
        var second = new FiberSet(runtime.CreateScope());
        var release = Gate.Create();
        var member = first.Run(async _ =>
        {
            await release.Task;
            return 1;
        });

        Assert.True(second.TryAdd(member));
        Assert.Equal(1, first.Count);
        Assert.Equal(1, second.Count);
        release.SetResult();

        await first.AwaitEmptyAsync().DefaultTimeout();
        await second.AwaitEmptyAsync().DefaultTimeout();
        Assert.Equal(0, second.Count);
    }

    [Fact]
    public async Task AwaitEmptyAndJoin_WokenByTheLastMemberLeaving_FindEveryMemberDoneWithItsExit()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        var release = Gate.Create();
        var members = Enumerable.Range(0, 64).Select(i => set.Run(async _ =>
        {
            await release.Task;
            return i;
        })).ToArray();
        var empty = set.AwaitEmptyAsync();
        var joined = set.JoinAsync();

        release.SetResult();
        await empty.DefaultTimeout();
        Assert.All(members, m => Assert.True(m.TryGetExit(out var exit) && exit.IsSuccess));
        await joined.DefaultTimeout();
        Assert.All(members, m => Assert.True(m.IsDone));
    }

    [Fact]
    public async Task CloseAsync_MemberCancellationCallbackBlocksOnAThreadThatReadsTheSet_DoesNotDeadlock()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var set = new FiberSet(runtime.CreateScope());
        int? countSeenByCallback = null;
        var fiber = set.Run(async ctx =>
        {
            // Token callbacks run inline in the call that interrupts the fiber. Blocking in one on
            // another thread that reads the set must not deadlock: the set must not interrupt its
            // members while holding its lock. (A dedicated thread: Task.Wait could run a pool task
            // inline here, and the lock is reentrant.)
            using var registration = ctx.CancellationToken.Register(() =>
            {
                int? seen = null;
                var reader = new Thread(() => seen = set.Count);
                reader.Start();
                if (reader.Join(TimeSpan.FromSeconds(10)))
                {
                    countSeenByCallback = seen;
                }
            });
            await ctx.NeverAsync();
        });
        await fiber.ParkedAsync();

        await set.CloseAsync().DefaultTimeout();

        Assert.Equal(1, countSeenByCallback); // still a member while it is being interrupted
        Assert.Equal(0, set.Count);
    }

    [Fact]
    public async Task OwningScopeCloses_WhileTheSetIsStillClosing_ScopeWaitsForTheMembers()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var set = new FiberSet(scope);
        var inFinally = Gate.Create();
        var release = Gate.Create();
        var fiber = set.Run(async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                inFinally.SetResult();
                await release.Task;
            }
        });
        await fiber.ParkedAsync();

        var setClosing = set.CloseAsync();
        await inFinally.Task.DefaultTimeout();
        var scopeClosing = scope.CloseAsync();
        Assert.False(scopeClosing.IsCompleted);
        release.SetResult();
        await setClosing.DefaultTimeout();
        await scopeClosing.DefaultTimeout();

        Assert.True(fiber.IsDone);
    }

    private sealed class BlockingObserver(ManualResetEventSlim entered, ManualResetEventSlim release) : IFiberObserver
    {
        public void OnFiberDone(Fiber fiber)
        {
            entered.Set();
            release.Wait(TestTimeouts.Default);
        }
    }
}
