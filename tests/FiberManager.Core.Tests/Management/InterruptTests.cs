using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class InterruptTests : ManagerTestBase
{
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
}
