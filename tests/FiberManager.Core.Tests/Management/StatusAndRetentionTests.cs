using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class StatusAndRetentionTests : ManagerTestBase
{
    [Fact]
    public async Task GetStatus_RunningAndEndedFiber_ReportsEveryField()
    {
        var manager = NewManager();
        var t0 = Clock.GetUtcNow();
        var labels = new Dictionary<string, string> { ["tenant"] = "acme" };
        await manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { Labels = labels, InputCapacity = 8, RequestId = "req" }).DefaultTimeout();
        using var events = manager.Subscribe("f");
        for (var i = 1; i <= 3; i++)
        {
            await manager.SubmitAsync("f", i).DefaultTimeout();
            await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output && e.Output == i).DefaultTimeout();
        }

        await manager.UntilStatusAsync("f", ManagedFiberStatus.Idle);
        Clock.Advance(TimeSpan.FromMinutes(1));

        var live = manager.GetStatus("f");
        Assert.Equal("f", live.FiberId);
        Assert.Equal("echo", live.Workflow);
        Assert.Equal("acme", live.Labels["tenant"]);
        Assert.Equal(ManagedFiberStatus.Idle, live.Status);
        Assert.Equal(t0, live.CreatedAt);
        Assert.Equal(t0, live.StartedAt);
        Assert.Null(live.EndedAt);
        Assert.Equal(0, live.QueueDepth);
        Assert.Equal(8, live.InputCapacity);
        Assert.Equal(3, live.InputsAccepted);
        Assert.Equal(3, live.InputsProcessed);
        Assert.Equal(3, live.OutputsPublished);
        Assert.Equal(1, live.Subscribers);
        Assert.Equal(0, live.Restarts);
        Assert.Null(live.LastError);
        Assert.Null(live.Termination);
        Assert.Equal(3UL, live.LastSequence);
        Assert.False(live.Paused);
        Assert.Equal("req", live.RequestId);

        await manager.InterruptAsync("f").DefaultTimeout();
        var ended = manager.GetStatus("f");
        Assert.Equal(ManagedFiberStatus.Interrupted, ended.Status);
        Assert.Equal(t0 + TimeSpan.FromMinutes(1), ended.EndedAt);
        Assert.Equal(t0, ended.StartedAt);
        Assert.Equal(4UL, ended.LastSequence);
        Assert.Equal(ManagedFiberStatus.Interrupted, ended.Termination!.Status);
        var terminated = await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Terminated).DefaultTimeout();
        Assert.Equal(t0 + TimeSpan.FromMinutes(1), terminated.Time);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task GetStatus_QueuedFiber_StartedAtIsWhenItsPermitArrived()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        var t0 = Clock.GetUtcNow();
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var queued = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", queued, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(5));

        var pending = manager.GetStatus("f");
        Assert.Equal(ManagedFiberStatus.Pending, pending.Status);
        Assert.Equal(t0, pending.CreatedAt);
        Assert.Null(pending.StartedAt);

        await manager.InterruptAsync("running").DefaultTimeout();
        await queued.Started.Task.DefaultTimeout();
        Assert.Equal(t0 + TimeSpan.FromSeconds(5), manager.GetStatus("f").StartedAt);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task GetStatus_UnknownFiber_ThrowsNotFound()
    {
        var manager = NewManager();
        await Task.CompletedTask;

        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("nobody"));
        ThrowsCode(FiberErrorCode.InvalidFiberId, () => manager.GetStatus(new string('x', 129)));
    }

    [Fact]
    public async Task Retention_EndedFiber_StaysVisibleUntilTheRetentionPeriodPasses()
    {
        var manager = NewManager(o => o.RetentionPeriod = TimeSpan.FromMinutes(1));
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();

        Clock.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(1));
        Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus("f").Status);
        Assert.Single(manager.List().Fibers);
        using (var replay = manager.Subscribe("f"))
        {
            Assert.Equal(FiberEventKind.Terminated, Assert.Single(await replay.ReadToEndAsync().DefaultTimeout()).Kind);
        }

        Assert.Equal(1, manager.GetStatistics().RetainedFibers);

        Clock.Advance(TimeSpan.FromTicks(1));
        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("f"));
        Assert.Empty(manager.List().Fibers);
        ThrowsCode(FiberErrorCode.NotFound, () => manager.Subscribe("f"));
        await ThrowsCodeAsync(FiberErrorCode.NotFound, () => manager.InterruptAsync("f"));
        await ThrowsCodeAsync(FiberErrorCode.NotFound, () => manager.SubmitAsync("f", 1).AsTask());
        Assert.Equal(0, manager.GetStatistics().RetainedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Retention_MoreEndedFibersThanTheMaximum_DropsTheOldest()
    {
        var manager = NewManager(o => o.RetentionMaxCount = 2);
        foreach (var id in new[] { "a", "b", "c" })
        {
            await manager.StartAsync(id, "echo", TestWorkflows.Echo()).DefaultTimeout();
            await manager.InterruptAsync(id).DefaultTimeout();
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("a"));
        Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus("b").Status);
        Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus("c").Status);
        Assert.Equal(["b", "c"], manager.List().Fibers.Select(f => f.FiberId));
        Assert.Equal(2, manager.GetStatistics().RetainedFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Retention_IdRestartedAfterItEnded_ShowsTheLiveFiberThenItsEnd()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "first", TestWorkflows.Echo()).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();

        await manager.StartAsync("f", "second", TestWorkflows.Echo()).DefaultTimeout();
        Assert.Equal("second", manager.GetStatus("f").Workflow);
        Assert.Equal("second", Assert.Single(manager.List().Fibers).Workflow);

        await manager.InterruptAsync("f").DefaultTimeout();
        Assert.Equal("second", manager.GetStatus("f").Workflow);
        Assert.Equal(1, manager.GetStatistics().RetainedFibers);
        manager.AssertSettled(0);
    }
}
