using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Collections;

/// <summary>The keyed set: replace stores first, only-if-missing, identity-guarded removal, remove, clear, join, close.</summary>
public sealed class FiberMapTests
{
    [Fact]
    public async Task Run_NewKey_StoresTheFiberUnderIt()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());

        var a = map.Run("a", async ctx => await ctx.NeverAsync());
        var b = map.Run("b", async ctx => await ctx.NeverAsync());

        Assert.Equal(2, map.Count);
        Assert.True(map.TryGet("a", out var stored));
        Assert.Same(a, stored);
        Assert.True(map.ContainsKey("b"));
        Assert.False(map.TryGet("c", out _));
        Assert.Equal(new[] { "a", "b" }, map.Keys.Order());
        await map.ClearAsync().DefaultTimeout();
        Assert.True(b.IsDone);
        Assert.Empty(map.Keys);
    }

    [Fact]
    public async Task Run_KeyTaken_StoresTheNewFiberBeforeInterruptingTheOld()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        Fiber? seenByCancellationCallback = null;
        Fiber? seenByFinally = null;
        var old = map.Run("k", async ctx =>
        {
            using var registration = ctx.CancellationToken.Register(() => seenByCancellationCallback = map.TryGet("k", out var f) ? f : null);
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                seenByFinally = map.TryGet("k", out var f) ? f : null;
            }
        });
        await old.ParkedAsync();

        var replacement = map.Run("k", async ctx => await ctx.NeverAsync());
        var oldExit = await old.AwaitExitAsync().DefaultTimeout();

        Assert.Same(replacement, seenByCancellationCallback);
        Assert.Same(replacement, seenByFinally);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, map.Id), oldExit.Interruptor);
        Assert.Equal(1, map.Count);
        Assert.False(replacement.IsInterruptRequested);
    }

    [Fact]
    public async Task Run_OnlyIfMissingAndKeyTaken_LeavesTheRunningFiberAndReturnsAnInterruptedFiberThatNeverRan()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var running = map.Run("k", async ctx => await ctx.NeverAsync());
        var ran = false;

        var rejected = map.Run("k", _ =>
        {
            ran = true;
            return Task.CompletedTask;
        }, onlyIfMissing: true);
        Assert.True(rejected.IsInterruptRequested);
        var exit = await rejected.AwaitExitAsync().DefaultTimeout();

        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, map.Id), exit.Interruptor);
        Assert.True(map.TryGet("k", out var current));
        Assert.Same(running, current);
        Assert.False(running.IsInterruptRequested);
    }

    [Fact]
    public async Task Run_OnlyIfMissingAndKeyFree_StoresAndRuns()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());

        var fiber = map.Run("k", _ => Task.FromResult(9), onlyIfMissing: true);

        Assert.Equal(9, await fiber.JoinAsync().DefaultTimeout());
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public async Task ReplacedFiber_EndingAfterItsSuccessorWasStored_DoesNotRemoveTheSuccessor()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var oldInFinally = Gate.Create();
        var releaseOld = Gate.Create();
        var old = map.Run("k", async ctx =>
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

        var successor = map.Run("k", async ctx => await ctx.NeverAsync());
        await oldInFinally.Task.DefaultTimeout();
        Assert.False(old.IsDone);
        releaseOld.SetResult();
        await old.AwaitExitAsync().DefaultTimeout(); // its removal attempt has run by now

        Assert.True(map.TryGet("k", out var current));
        Assert.Same(successor, current);
        Assert.Equal(1, map.Count);
        await successor.InterruptAsync().DefaultTimeout();
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public async Task RemoveAsync_KeyHeld_InterruptsAndReturnsOnlyAfterTheFinallyCompleted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var inFinally = Gate.Create();
        var release = Gate.Create();
        var finallyCompleted = false;
        var fiber = map.Run("k", async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                inFinally.SetResult();
                await release.Task;
                Volatile.Write(ref finallyCompleted, true);
            }
        });
        await fiber.ParkedAsync();

        var removing = map.RemoveAsync("k");
        await inFinally.Task.DefaultTimeout();
        Assert.False(removing.IsCompleted);
        Assert.False(map.ContainsKey("k"));
        release.SetResult();

        Assert.True(await removing.DefaultTimeout());
        Assert.True(Volatile.Read(ref finallyCompleted));
        Assert.Equal(new Interruptor(InterruptorKind.Collection, map.Id), (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task RemoveAsync_MissingKey_ReturnsFalse()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var other = map.Run("other", async ctx => await ctx.NeverAsync());

        Assert.False(await map.RemoveAsync("missing").DefaultTimeout());
        Assert.False(other.IsInterruptRequested);
        Assert.Equal(1, map.Count);
    }

    [Fact]
    public async Task ClearAsync_Members_InterruptsAllAwaitsThemAndTheMapStaysOpen()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<int>(runtime.CreateScope());
        var finallyCompleted = 0;
        var fibers = Enumerable.Range(0, 3).Select(i => map.Run(i, async ctx =>
        {
            try
            {
                await ctx.NeverAsync();
            }
            finally
            {
                await Task.Yield();
                Interlocked.Increment(ref finallyCompleted);
            }
        })).ToArray();
        foreach (var fiber in fibers)
        {
            await fiber.ParkedAsync();
        }

        await map.ClearAsync().DefaultTimeout();

        Assert.Equal(3, Volatile.Read(ref finallyCompleted));
        Assert.Equal(0, map.Count);
        Assert.False(map.IsClosed);
        Assert.Equal(1, await map.Run(0, _ => Task.FromResult(1)).JoinAsync().DefaultTimeout());
    }

    [Fact]
    public async Task JoinAsync_EmptyMap_CompletesAtOnce_AndWithMembersFailsWithTheFirstFailure()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        Assert.True(map.JoinAsync().IsCompletedSuccessfully);
        var first = new TestException("first");
        var blocker = map.Run("blocker", async ctx => await ctx.NeverAsync());
        var joining = map.JoinAsync();

        var failing = map.Run("failing", async _ =>
        {
            await Task.Yield();
            throw first;
        });
        await failing.AwaitExitAsync().DefaultTimeout();
        var thrown = await Assert.ThrowsAsync<TestException>(() => joining.DefaultTimeout());
        map.Run("second", _ => throw new TestException("second"));
        await blocker.InterruptAsync().DefaultTimeout();

        Assert.Same(first, thrown);
        Assert.Same(first, await Assert.ThrowsAsync<TestException>(() => map.JoinAsync().DefaultTimeout()));
    }

    [Fact]
    public async Task JoinAsync_MembersEnd_CompletesWhenTheLastOneEnds()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var release = Gate.Create();
        map.Run("a", _ => release.Task);
        var replaced = map.Run("b", async ctx => await ctx.NeverAsync(), propagateInterruption: true);
        map.Run("b", _ => release.Task); // the replaced fiber's interruption comes from the map: never a failure

        var joining = map.JoinAsync();
        await replaced.AwaitExitAsync().DefaultTimeout();
        Assert.False(joining.IsCompleted);
        release.SetResult();

        await joining.DefaultTimeout();
    }

    [Fact]
    public async Task Closed_RunAndSetAreRejected_AndTheFibersInterruptedAtOnce()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var member = map.Run("k", async ctx => await ctx.NeverAsync());
        await map.CloseAsync().DefaultTimeout();
        var ran = false;

        var late = map.Run("k", _ =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());
        var stored = map.Set("d", daemon);

        Assert.True(map.IsClosed);
        Assert.True(member.IsDone);
        Assert.False(stored);
        Assert.Equal(0, map.Count);
        Assert.True((await late.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
        Assert.False(ran);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, map.Id), (await daemon.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task OwningScopeCloses_MapClosesAndItsMembersAreInterrupted()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var scope = runtime.CreateScope();
        var map = new FiberMap<string>(scope);
        var fiber = map.Run("k", async ctx => await ctx.NeverAsync());

        await scope.CloseAsync().DefaultTimeout();

        Assert.True(map.IsClosed);
        Assert.True(fiber.IsDone);
        Assert.Equal(0, map.Count);
        Assert.Equal(new Interruptor(InterruptorKind.Collection, map.Id), (await fiber.AwaitExitAsync().DefaultTimeout()).Interruptor);
    }

    [Fact]
    public async Task RuntimeDelegates_ForkUnderAKey_AndReturnTheValue()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var run = map.Runtime<int>(onlyIfMissing: true);
        var runTask = map.RuntimeTask<int>();

        var parked = run("k", async ctx =>
        {
            await ctx.NeverAsync();
            return 0;
        });
        var rejected = run("k", _ => Task.FromResult(1));

        Assert.Same(parked, map.TryGet("k", out var current) ? current : null);
        Assert.True((await rejected.AwaitExitAsync().DefaultTimeout()).IsInterrupted);
        Assert.Equal(2, await runTask("other", _ => Task.FromResult(2)).DefaultTimeout());
    }

    [Fact]
    public async Task Set_FiberForkedElsewhere_IsStoredAndLeavesWhenItEnds_AndSettingItAgainChangesNothing()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        var daemon = runtime.ForkDaemon(async ctx => await ctx.NeverAsync());

        Assert.True(map.Set("k", daemon));
        Assert.True(map.Set("k", daemon));
        Assert.True(map.Set("k", daemon, onlyIfMissing: true));

        Assert.False(daemon.IsInterruptRequested);
        Assert.Equal(1, map.Count);
        await daemon.InterruptAsync().DefaultTimeout();
        Assert.Equal(0, map.Count);
    }

    [Fact]
    public async Task ClearAsync_StartedWhileARunIsStoringItsFiber_CompletesOnlyAfterThatMemberLeft()
    {
        var runtime = new FiberRuntime();
        await using var cleanup = runtime.DisposeBounded();
        var map = new FiberMap<string>(runtime.CreateScope());
        Task? clearing = null;
        (bool ClearCompleted, int Count)? seenWhenClearCompleted = null;
        var old = map.Run("k", async ctx =>
        {
            // Runs inline while the replacing Run is storing its fiber: the only moment user code can
            // start a clear between the new member being stored and the call returning.
            using var registration = ctx.CancellationToken.Register(() =>
            {
                clearing = map.ClearAsync();
                Assert.True(map.TryGet("k", out var successor));
                successor.AddObserver(new Probe(() => seenWhenClearCompleted = (clearing.IsCompleted, map.Count)));
            });
            await ctx.NeverAsync();
        });
        await old.ParkedAsync();

        var successor = map.Run("k", async ctx => await ctx.NeverAsync());
        await clearing!.DefaultTimeout();
        await successor.AwaitExitAsync().DefaultTimeout();

        // The probe runs when the successor ends, right after the clear's own observer: by then the
        // clear counts as complete, and the member it waited for must already have left.
        Assert.Equal((true, 0), seenWhenClearCompleted);
    }

    private sealed class Probe(Action onDone) : IFiberObserver
    {
        public void OnFiberDone(Fiber fiber) => onDone();
    }
}
