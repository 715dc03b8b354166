using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class InterruptTests : ManagerTestBase
{
    [Fact]
    public async Task Interrupt_CooperativeWorkflow_InterruptedWithTheQueuedInputsUnprocessed()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        for (var i = 0; i < 3; i++)
        {
            await manager.SubmitAsync("f", i).DefaultTimeout();
        }

        using var events = manager.Subscribe("f");
        var final = await manager.InterruptAsync("f").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Equal(3, final.Termination!.InputsUnprocessed);
        Assert.Equal("interrupt", final.Termination.Reason);
        Assert.False(final.Termination.Abandoned);
        Assert.Equal(0, final.QueueDepth);
        var terminated = Assert.Single(await events.ReadToEndAsync().DefaultTimeout(), e => e.Kind == FiberEventKind.Terminated);
        Assert.Equal(3, terminated.Termination!.InputsUnprocessed);
        Assert.Equal(ManagedFiberStatus.Interrupted, terminated.Status);
        Assert.Equal(3, Assert.Single(probe.Terminations).InputsUnprocessed);
        Assert.Equal(0, manager.GetStatistics().AbandonedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_WorkflowReturnsWhenCancelled_StatusInterrupted()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(async ctx =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                // A graceful workflow: it notices the cancellation and returns normally.
            }
        });
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();

        var final = await manager.InterruptAsync("f").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Equal("interrupt", final.Termination!.Reason);
        Assert.Equal(ManagedFiberStatus.Interrupted, Assert.Single(probe.Terminations).Status);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_RightAfterStart_EndsAtOnceWithoutAbandoning()
    {
        var manager = NewManager(o => o.InterruptGracePeriod = TimeSpan.FromHours(1));
        for (var i = 0; i < 50; i++)
        {
            var probe = new ProbeWorkflow();
            var id = $"f{i}";
            await manager.StartAsync(id, "probe", probe).DefaultTimeout();

            // The clock never moves: the fiber must end without its grace period expiring,
            // whether or not its body got to run.
            var final = await manager.InterruptAsync(id).DefaultTimeout();

            Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
            Assert.False(final.Termination!.Abandoned);
            Assert.Single(probe.Terminations);
        }

        Assert.Equal(0, manager.GetStatistics().AbandonedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_WorkflowIgnoresCancellation_AbandonedWhenTheGracePeriodExpires()
    {
        var manager = NewManager();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(_ => release.Task);
        await manager.StartAsync("f", "stubborn", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var events = manager.Subscribe("f");

        var interrupt = manager.InterruptAsync("f", TimeSpan.FromSeconds(5));
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(interrupt.IsCompleted);
        Assert.False(manager.GetStatus("f").Status.IsTerminal());
        Assert.Equal(1, manager.GetStatistics().PermitsInUse);
        Clock.Advance(TimeSpan.FromTicks(1));
        var final = await interrupt.DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.True(final.Termination!.Abandoned);
        Assert.Equal(1, manager.GetStatistics().AbandonedFibers);
        var terminated = Assert.Single(await events.ReadToEndAsync().DefaultTimeout(), e => e.Kind == FiberEventKind.Terminated);
        Assert.True(terminated.Termination!.Abandoned);
        manager.AssertSettled(0);

        // The abandoned workflow returning later changes nothing.
        release.SetResult();
        await TestTimeouts.UntilAsync(() => probe.Runs == 1, "the workflow ran");
        Assert.Single(probe.Terminations);
        Assert.True(manager.GetStatus("f").Termination!.Abandoned);
        Assert.Equal(1, manager.GetStatistics().AbandonedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_WithoutGrace_UsesTheConfiguredGracePeriod()
    {
        var manager = NewManager(o => o.InterruptGracePeriod = TimeSpan.FromSeconds(2));
        var probe = new ProbeWorkflow(_ => new TaskCompletionSource().Task);
        await manager.StartAsync("f", "stubborn", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();

        var interrupt = manager.InterruptAsync("f");
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(2));
        var final = await interrupt.DefaultTimeout();

        Assert.True(final.Termination!.Abandoned);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_CooperativeWorkflowWithSlowHook_NotCountedAsAbandoned()
    {
        var manager = NewManager(o =>
        {
            o.InterruptGracePeriod = TimeSpan.FromSeconds(1);
            o.TerminateHookTimeout = TimeSpan.FromSeconds(10);
        });
        var releaseHook = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow { Hook = (_, _) => new ValueTask(releaseHook.Task) };
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();

        var interrupt = manager.InterruptAsync("f");
        await probe.HookCalled.Task.DefaultTimeout();

        // The workflow honoured the cancellation at once; only its hook is slow. The grace
        // period expiring while the hook runs must not abandon a fiber that already ended.
        Clock.Advance(TimeSpan.FromSeconds(2));
        releaseHook.SetResult();
        var final = await interrupt.DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.False(final.Termination!.Abandoned);
        Assert.Equal(0, manager.GetStatistics().AbandonedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_CooperativeWorkflow_LeavesNoTimerBehind()
    {
        var manager = NewManager(o => o.InterruptGracePeriod = TimeSpan.FromHours(1));
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();

        await manager.InterruptAsync("f").DefaultTimeout();

        // The grace timer served its purpose; it must not stay scheduled for an hour.
        await TestTimeouts.UntilAsync(() => Clock.ActiveTimerCount == 0, "no timer is scheduled");
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_EndedFiber_ReturnsItsFinalState()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(_ => Task.CompletedTask);
        await manager.StartAsync("f", "done", probe).DefaultTimeout();
        await probe.HookCalled.Task.DefaultTimeout();
        await manager.UntilStatusAsync("f", ManagedFiberStatus.Completed);
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().LiveFibers == 0, "the fiber is retained");

        var final = await manager.InterruptAsync("f").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Completed, final.Status);
        Assert.Null(final.Termination!.Reason);
        Assert.Single(probe.Terminations);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_NegativeGrace_ThrowsInvalidArgument()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.InterruptAsync("f", TimeSpan.FromTicks(-1)));

        Assert.False(manager.GetStatus("f").Status.IsTerminal());
        Assert.Empty(probe.Terminations);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Interrupt_UnknownFiber_ThrowsNotFound()
    {
        var manager = NewManager();

        await ThrowsCodeAsync(FiberErrorCode.NotFound, () => manager.InterruptAsync("nobody"));
        await ThrowsCodeAsync(FiberErrorCode.InvalidFiberId, () => manager.InterruptAsync("not valid"));
    }

    [Fact]
    public async Task Interrupt_PendingFiber_EndsItWithoutEverRunningIt()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var pending = new ProbeWorkflow();
        await manager.StartAsync("pending", "probe", pending, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
        await manager.SubmitAsync("pending", 1).DefaultTimeout();
        using var events = manager.Subscribe("pending");

        var final = await manager.InterruptAsync("pending").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Null(final.StartedAt);
        Assert.Equal(1, final.Termination!.InputsUnprocessed);
        var terminated = Assert.Single(await events.ReadToEndAsync().DefaultTimeout());
        Assert.Equal(FiberEventKind.Terminated, terminated.Kind);
        Assert.Equal(ManagedFiberStatus.Pending, terminated.PreviousStatus);
        Assert.Single(pending.Terminations);
        var statistics = manager.GetStatistics();
        Assert.Equal(0, statistics.PendingFibers);
        Assert.Equal(0, statistics.PermitWaiters);
        manager.AssertSettled(1);

        // Its place in the queue is gone: freeing the permit starts nothing.
        await manager.InterruptAsync("running").DefaultTimeout();
        Assert.Equal(0, pending.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Interrupt_PendingFiberWhosePermitWasJustGranted_EndsWithExactCounters()
    {
        for (var i = 0; i < 30; i++)
        {
            var manager = NewManager(o => o.MaxConcurrentFibers = 1);
            await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
            var pending = new ProbeWorkflow();
            await manager.StartAsync("pending", "probe", pending, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();

            // Growing the limit grants the permit at once; the fiber learns of it a moment later.
            manager.SetConcurrencyLimit(2);
            var final = await manager.InterruptAsync("pending").DefaultTimeout();

            Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
            Assert.Single(pending.Terminations);
            Assert.Equal(0, manager.GetStatistics().PendingFibers);
            manager.AssertSettled(1);
        }
    }

    [Fact]
    public async Task Interrupt_TwiceConcurrently_BothReturnTheSameEnd()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();

        var first = manager.InterruptAsync("f");
        var second = manager.InterruptAsync("f");
        var results = await Task.WhenAll(first, second).DefaultTimeout();

        Assert.All(results, r => Assert.Equal(ManagedFiberStatus.Interrupted, r.Status));
        Assert.Single(probe.Terminations);
        manager.AssertSettled(0);
    }
}
