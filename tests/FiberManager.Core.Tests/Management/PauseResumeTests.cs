using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class PauseResumeTests : ManagerTestBase
{
    [Fact]
    public async Task Pause_ItemInProgress_FinishesAndNothingNewIsHandedOutUntilResume()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped).DefaultTimeout();
        using var events = manager.Subscribe("f");
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        await manager.SubmitAsync("f", 2).DefaultTimeout();
        Assert.Equal(1, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());

        var paused = manager.Pause("f");
        Assert.Equal(ManagedFiberStatus.Paused, paused.Status);
        Assert.True(paused.Paused);

        // The item in progress finishes and is published...
        stepped.Finish();
        var seen = new List<FiberEvent<int>>();
        Assert.Equal(1, (await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output, seen).DefaultTimeout()).Output);

        // ...and then the reader parks with item 2 still queued.
        var parked = stepped.Parked.ReadAsync().AsTask();
        var taken = stepped.Taken.ReadAsync().AsTask();
        Assert.Same(parked, await Task.WhenAny(parked, taken).DefaultTimeout());
        var status = manager.GetStatus("f");
        Assert.Equal(ManagedFiberStatus.Paused, status.Status);
        Assert.Equal(1, status.QueueDepth);
        Assert.Equal(1, status.InputsProcessed);

        var resumed = manager.Resume("f");
        Assert.False(resumed.Paused);
        Assert.Equal(2, await taken.DefaultTimeout());
        stepped.Finish();
        Assert.Equal(2, (await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output, seen).DefaultTimeout()).Output);

        var changes = seen.Where(e => e.Kind == FiberEventKind.StatusChanged).ToList();
        Assert.Equal(2, changes.Count);
        Assert.True(changes[0].IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.Paused));
        Assert.True(changes[1].IsStatus(ManagedFiberStatus.Paused, ManagedFiberStatus.Running));
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task PauseAndResume_Repeated_AreIdempotent()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var events = manager.Subscribe("f");

        manager.Resume("f");
        manager.Pause("f");
        Assert.Equal(ManagedFiberStatus.Paused, manager.Pause("f").Status);
        manager.Resume("f");
        Assert.False(manager.Resume("f").Paused);
        await manager.InterruptAsync("f").DefaultTimeout();

        var changes = (await events.ReadToEndAsync().DefaultTimeout()).Where(e => e.Kind == FiberEventKind.StatusChanged).ToList();
        Assert.Equal(2, changes.Count);
        Assert.True(changes[0].IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.Paused));
        Assert.True(changes[1].IsStatus(ManagedFiberStatus.Paused, ManagedFiberStatus.Running));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task PauseAndResume_IdleFiber_StatusEventsFormOneChain()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        using var events = manager.Subscribe("f");
        await manager.UntilStatusAsync("f", ManagedFiberStatus.Idle);

        manager.Pause("f");
        manager.Resume("f");
        await manager.InterruptAsync("f").DefaultTimeout();

        // Idle/Running flips are not published, so no event may name Idle: each event starts
        // where the previous one ended, beginning at Running (it started with a free permit).
        var all = await events.ReadToEndAsync().DefaultTimeout();
        var previous = ManagedFiberStatus.Running;
        foreach (var e in all.Where(e => e.Kind is FiberEventKind.StatusChanged or FiberEventKind.Terminated))
        {
            Assert.Equal(previous, e.PreviousStatus);
            previous = e.Status;
        }

        Assert.Equal(ManagedFiberStatus.Interrupted, previous);
        Assert.DoesNotContain(all, e => e.PreviousStatus == ManagedFiberStatus.Idle || (e.Kind == FiberEventKind.StatusChanged && e.Status == ManagedFiberStatus.Idle));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Resume_OutputOfAnInputTakenAfterTheResume_FollowsTheStatusChange()
    {
        var clock = new ProbedClock(Clock);
        var supervisor = NewManager(clock);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var echo = Workflow.Create<int, int>(async ctx =>
        {
            running.TrySetResult();
            await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
            {
                ctx.Publish(item);
            }
        });
        await supervisor.StartAsync("f", "echo", echo, new StartOptions { StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await supervisor.SubmitAsync("f", 7).DefaultTimeout();
        await running.Task.DefaultTimeout(); // past the attempt's start, which takes the fiber's lock
        using var events = supervisor.Subscribe("f");

        // The first time Resume reads the clock is when the hub stamps the status event: the gate
        // must still be closed then, so no input can be taken (and no output published) before it.
        // (Resume holds the fiber's lock there; GetStatus takes it again on the same thread.)
        bool? pausedWhenTheEventWasStamped = null;
        clock.ArmOnThisThread(() => pausedWhenTheEventWasStamped = supervisor.GetStatus("f").Paused);
        Assert.False(supervisor.Resume("f").Paused);
        Assert.True(pausedWhenTheEventWasStamped);

        var seen = new List<FiberEvent<int>>();
        await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output, seen).DefaultTimeout();
        Assert.Collection(
            seen,
            e => Assert.True(e.IsStatus(ManagedFiberStatus.Paused, ManagedFiberStatus.Running)),
            e => Assert.Equal(7, e.Output));
        Assert.True(seen[0].Sequence < seen[1].Sequence);
        supervisor.AssertSettled(1);
    }

    [Fact]
    public async Task Pause_PendingFiber_ItStartsPaused()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped, new StartOptions { Admission = AdmissionMode.Queue, BufferWhilePaused = true }).DefaultTimeout();
        using var events = manager.Subscribe("f");

        var paused = manager.Pause("f");
        Assert.Equal(ManagedFiberStatus.Pending, paused.Status);
        Assert.True(paused.Paused);
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        await manager.InterruptAsync("running").DefaultTimeout();

        var change = await events.ReadUntilAsync(e => e.Kind == FiberEventKind.StatusChanged).DefaultTimeout();
        Assert.True(change.IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Paused));
        Assert.True(await stepped.Parked.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(0, manager.GetStatus("f").InputsProcessed);
        manager.Resume("f");
        Assert.Equal(1, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task PauseAndResume_EndedFiber_ThrowEnded()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();

        ThrowsCode(FiberErrorCode.Ended, () => manager.Pause("f"));
        ThrowsCode(FiberErrorCode.Ended, () => manager.Resume("f"));
        Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus("f").Status);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task PauseAndResume_UnknownFiber_ThrowNotFound()
    {
        var manager = NewManager();
        await Task.CompletedTask;

        ThrowsCode(FiberErrorCode.NotFound, () => manager.Pause("nobody"));
        ThrowsCode(FiberErrorCode.NotFound, () => manager.Resume("nobody"));
        ThrowsCode(FiberErrorCode.InvalidFiberId, () => manager.Pause(string.Empty));
    }
}
