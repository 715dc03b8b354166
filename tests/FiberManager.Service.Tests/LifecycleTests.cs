using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>Pause, Resume, Interrupt and GetStatus.</summary>
public sealed class LifecycleTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task PauseResume_Echo_StatusPausedAndStatusChangedEvents()
    {
        var id = Ids.New("pause");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", BufferWhilePaused = true }).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        var paused = await Client.PauseAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, paused.Status);
        Assert.Equal(FiberStatus.Paused, (await Client.GetStatusAsync(id).DefaultTimeout()).Status);
        var change = await events.NextAsync();
        Assert.Equal(FiberEvent.EventOneofCase.StatusChanged, change.EventCase);
        Assert.Contains(change.StatusChanged.Previous, new[] { FiberStatus.Idle, FiberStatus.Running });
        Assert.Equal(FiberStatus.Paused, change.StatusChanged.Current);

        // Idempotent: a second Pause succeeds and publishes nothing.
        var again = await Client.PauseAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, again.Status);

        // Inputs wait while paused (buffer_while_paused).
        await Client.SubmitAsync(id, Value.ForString("held")).DefaultTimeout();
        Assert.Equal(1U, (await Client.GetStatusAsync(id).DefaultTimeout()).QueueDepth);

        var resumed = await Client.ResumeAsync(id).DefaultTimeout();
        Assert.NotEqual(FiberStatus.Paused, resumed.Status);

        // The status change and the held input's output, in either order (Core opens the gate
        // before it publishes the status change: see the report).
        var next = new[] { await events.NextAsync(), await events.NextAsync() };
        var change2 = Assert.Single(next, e => e.EventCase == FiberEvent.EventOneofCase.StatusChanged);
        Assert.Equal(FiberStatus.Paused, change2.StatusChanged.Previous);
        Assert.Equal(FiberStatus.Running, change2.StatusChanged.Current);
        var output = Assert.Single(next, e => e.EventCase == FiberEvent.EventOneofCase.Output);
        Assert.Equal("held", output.Output.Json.StringValue);
        Assert.Equal([change.Sequence + 1, change.Sequence + 2], next.Select(e => e.Sequence));

        // Idempotent: resuming a running fiber succeeds.
        var resumedAgain = await Client.ResumeAsync(id).DefaultTimeout();
        Assert.NotEqual(FiberStatus.Paused, resumedAgain.Status);

        await Client.InterruptAsync(id).DefaultTimeout();
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(change.Sequence + 3, terminated.Sequence);
    }

    [Fact]
    public async Task Submit_PausedFiberWithoutBuffering_FailedPreconditionFiberPaused()
    {
        var id = Ids.New("paused-reject");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.PauseAsync(id).DefaultTimeout();

        var error = await RpcAssert.FailsAsync(() => Client.SubmitAsync(id, Value.ForNumber(1)), StatusCode.FailedPrecondition, ErrorReasons.FiberPaused);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);

        await Client.ResumeAsync(id).DefaultTimeout();
        Assert.Equal(1UL, (await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout()).Sequence);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Interrupt_WithQueuedInputs_InterruptedWithInputsUnprocessed()
    {
        var id = Ids.New("interrupt-unprocessed");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await using var events = new EventReader(Client, id);
        for (var i = 0; i < 3; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        var final = await Client.InterruptAsync(id, TimeSpan.FromSeconds(1)).DefaultTimeout();

        Assert.Equal(FiberStatus.Interrupted, final.Status);
        Assert.NotNull(final.EndTime);
        Assert.Equal(ExitKind.Interrupted, final.Exit.Kind);
        Assert.Equal(3UL, final.Exit.InputsUnprocessed);
        Assert.Contains("interrupt", final.Exit.Message, StringComparison.Ordinal);
        Assert.Equal(0U, final.QueueDepth);

        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(ExitKind.Interrupted, terminated.Terminated.Exit.Kind);
        Assert.Equal(3UL, terminated.Terminated.Exit.InputsUnprocessed);
        Assert.Equal(final.LastSequence, terminated.Sequence);
    }

    [Fact]
    public async Task Interrupt_WorkflowIgnoresCancellation_AbandonedAfterGrace()
    {
        var id = Ids.New("interrupt-grace");
        await Client.StartAsync(id, TestWorkflows.Stubborn).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        var final = await Client.InterruptAsync(id, TimeSpan.FromMilliseconds(200)).DefaultTimeout();

        Assert.Equal(FiberStatus.Interrupted, final.Status);
        Assert.Equal(ExitKind.Interrupted, final.Exit.Kind);
        Assert.Contains("abandoned", final.Exit.Message, StringComparison.Ordinal);
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Contains("abandoned", terminated.Terminated.Exit.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interrupt_EndedFiber_ReturnsFinalStateAgain()
    {
        var id = Ids.New("interrupt-twice");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        var first = await Client.InterruptAsync(id).DefaultTimeout();
        var second = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(FiberStatus.Interrupted, second.Status);
        Assert.Equal(first.EndTime, second.EndTime);
        Assert.Equal(first.Exit, second.Exit);
    }

    [Fact]
    public async Task Interrupt_NegativeGrace_InvalidArgumentFieldGrace()
    {
        var id = Ids.New("interrupt-negative");
        await Client.StartAsync(id, "echo").DefaultTimeout();

        var error = await RpcAssert.FailsAsync(() => Client.InterruptAsync(id, TimeSpan.FromSeconds(-1)), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "grace");
        Assert.Equal("grace must not be negative.", error.Status.Detail);
        Assert.NotEqual(FiberStatus.Interrupted, (await Client.GetStatusAsync(id).DefaultTimeout()).Status);

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Interrupt_GraceBeyondTimerRange_InterruptedNormally()
    {
        // 100 days is a valid Duration but more than a .NET timer can wait (about 49.7 days).
        var id = Ids.New("interrupt-long-grace");
        await Client.StartAsync(id, "echo").DefaultTimeout();

        var final = await Client.InterruptAsync(id, TimeSpan.FromDays(100)).DefaultTimeout();

        Assert.Equal(FiberStatus.Interrupted, final.Status);
        Assert.Equal("interrupted (interrupt)", final.Exit.Message);
    }

    [Fact]
    public async Task PauseResumeSubmit_EndedFiber_FailedPreconditionFiberEnded()
    {
        var id = Ids.New("ended");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.InterruptAsync(id).DefaultTimeout();

        foreach (var call in new Func<Task>[]
        {
            () => Client.SubmitAsync(id, Value.ForNumber(1)),
            () => Client.PauseAsync(id),
            () => Client.ResumeAsync(id),
        })
        {
            var error = await RpcAssert.FailsAsync(call, StatusCode.FailedPrecondition, ErrorReasons.FiberEnded);
            RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
        }
    }

    [Fact]
    public async Task GetStatus_AfterWork_CountersAndTimes()
    {
        var id = Ids.New("status");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using (var events = new EventReader(Client, id))
        {
            await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
            await Client.SubmitAsync(id, Value.ForNumber(2)).DefaultTimeout();
            await events.NextOutputAsync();
            var last = await events.NextOutputAsync();

            var status = await Client.GetStatusAsync(id).DefaultTimeout();
            Assert.Equal(id, status.FiberId);
            Assert.Equal("echo", status.Workflow);
            Assert.Equal(2UL, status.InputsAccepted);
            Assert.Equal(2UL, status.InputsProcessed);
            Assert.Equal(2UL, status.OutputsPublished);
            Assert.Equal(1U, status.Subscribers);
            Assert.Equal(last.Sequence, status.LastSequence);
            Assert.Null(status.EndTime);
        }

        var final = await Client.InterruptAsync(id).DefaultTimeout();
        var retained = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, retained.Status);
        Assert.Equal(final.EndTime, retained.EndTime);
        Assert.True(retained.EndTime.ToDateTimeOffset() >= retained.StartTime.ToDateTimeOffset());
    }

    [Fact]
    public async Task GetStatus_FailedWorkflow_FailedWithLastErrorAndExit()
    {
        var id = Ids.New("failed");
        await Client.StartAsync(id, TestWorkflows.FailOn).DefaultTimeout();
        await using var events = new EventReader(Client, id);
        await Client.SubmitAsync(id, Value.ForString("fail")).DefaultTimeout();

        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(ExitKind.Failed, terminated.Terminated.Exit.Kind);
        Assert.Equal("asked to fail", terminated.Terminated.Exit.Message);

        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Failed, status.Status);
        Assert.Equal("asked to fail", status.LastError);
        Assert.Equal(ExitKind.Failed, status.Exit.Kind);
    }
}
