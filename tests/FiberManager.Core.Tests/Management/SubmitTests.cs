using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class SubmitTests : ManagerTestBase
{
    [Fact]
    public async Task Submit_Accepted_ReturnsSequenceNumbersAndQueueDepth()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "parked", probe, new StartOptions { InputCapacity = 4 }).DefaultTimeout();

        for (var i = 1; i <= 3; i++)
        {
            var result = await manager.SubmitAsync("f", i * 10).DefaultTimeout();
            Assert.Equal((ulong)i, result.Sequence);
            Assert.Equal(i, result.QueueDepth);
            Assert.False(result.Duplicate);
        }

        var status = manager.GetStatus("f");
        Assert.Equal(3, status.QueueDepth);
        Assert.Equal(3, status.InputsAccepted);
        Assert.Equal(0, status.InputsProcessed);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_FullQueueReject_ThrowsInputQueueFullWithTheDepth()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", new ProbeWorkflow(), new StartOptions { InputCapacity = 2 }).DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        await manager.SubmitAsync("f", 2).DefaultTimeout();

        var error = await ThrowsCodeAsync(FiberErrorCode.InputQueueFull, () => manager.SubmitAsync("f", 3, FullQueueMode.Reject).AsTask());

        Assert.Equal("2", error.Metadata["queue_depth"]);
        Assert.Equal("2", error.Metadata["capacity"]);
        Assert.Equal("f", error.FiberId);
        var status = manager.GetStatus("f");
        Assert.Equal(2, status.QueueDepth);
        Assert.Equal(2, status.InputsAccepted);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_AfterARejectedSubmit_AcceptedInputsKeepConsecutiveSequences()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped, new StartOptions { InputCapacity = 1 }).DefaultTimeout();
        Assert.Equal(1UL, (await manager.SubmitAsync("f", 1).DefaultTimeout()).Sequence);
        Assert.Equal(1, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(2UL, (await manager.SubmitAsync("f", 2).DefaultTimeout()).Sequence);
        await ThrowsCodeAsync(FiberErrorCode.InputQueueFull, () => manager.SubmitAsync("f", 3, FullQueueMode.Reject).AsTask());

        stepped.Finish();
        Assert.Equal(2, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        var third = await manager.SubmitAsync("f", 3, FullQueueMode.Reject).DefaultTimeout();

        // The rejected input was never accepted, so it does not use up a sequence number.
        Assert.Equal(3UL, third.Sequence);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_FullQueueWait_CompletesOnceTheWorkflowTakesAnItem()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped, new StartOptions { InputCapacity = 1 }).DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        Assert.Equal(1, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        await manager.SubmitAsync("f", 2).DefaultTimeout();

        // The workflow holds item 1 and item 2 fills the queue: nothing can make room yet.
        var third = manager.SubmitAsync("f", 3, FullQueueMode.Wait).AsTask();
        Assert.False(third.IsCompleted);

        stepped.Finish();
        Assert.Equal(2, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        var result = await third.DefaultTimeout();

        Assert.Equal(3UL, result.Sequence);
        Assert.Equal(1, manager.GetStatus("f").QueueDepth);
        Assert.Equal(3, manager.GetStatus("f").InputsAccepted);
        stepped.Finish();
        Assert.Equal(3, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_FullQueueWaitCancelled_ThrowsOperationCanceledAndEnqueuesNothing()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", new ProbeWorkflow(), new StartOptions { InputCapacity = 1 }).DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        using var cts = new CancellationTokenSource();

        var blocked = manager.SubmitAsync("f", 2, FullQueueMode.Wait, cancellationToken: cts.Token).AsTask();
        Assert.False(blocked.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked).DefaultTimeout();
        var final = await manager.InterruptAsync("f").DefaultTimeout();
        Assert.Equal(1, final.InputsAccepted);
        Assert.Equal(1, final.Termination!.InputsUnprocessed);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Submit_FullQueueWaitGivenUp_AcceptedInputsKeepConsecutiveSequences()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped, new StartOptions { InputCapacity = 1 }).DefaultTimeout();
        Assert.Equal(1UL, (await manager.SubmitAsync("f", 1).DefaultTimeout()).Sequence);
        Assert.Equal(1, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(2UL, (await manager.SubmitAsync("f", 2).DefaultTimeout()).Sequence);

        // Two writers wait for room; the first gives up (a deadline, a client that went away).
        using var cts = new CancellationTokenSource();
        var givenUp = manager.SubmitAsync("f", 30, FullQueueMode.Wait, cancellationToken: cts.Token).AsTask();
        var waiting = manager.SubmitAsync("f", 4, FullQueueMode.Wait).AsTask();
        Assert.False(givenUp.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => givenUp).DefaultTimeout();

        // Room: the remaining writer's input is accepted and takes the next number, 3.
        stepped.Finish();
        Assert.Equal(2, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(3UL, (await waiting.DefaultTimeout()).Sequence);
        stepped.Finish();
        Assert.Equal(4, await stepped.Taken.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(4UL, (await manager.SubmitAsync("f", 5).DefaultTimeout()).Sequence);
        Assert.Equal(4, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_FullQueueWaitWhenTheFiberEnds_ThrowsEnded()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "parked", probe, new StartOptions { InputCapacity = 1 }).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        var blocked = manager.SubmitAsync("f", 2, FullQueueMode.Wait).AsTask();

        var final = await manager.InterruptAsync("f").DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.Ended, () => blocked);
        Assert.Equal(1, final.Termination!.InputsUnprocessed);
        Assert.Equal(1, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Submit_Paused_ThrowsPaused()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        manager.Pause("f");

        var error = await ThrowsCodeAsync(FiberErrorCode.Paused, () => manager.SubmitAsync("f", 1).AsTask());

        Assert.Equal("f", error.FiberId);
        Assert.Equal(0, manager.GetStatus("f").InputsAccepted);
        manager.Resume("f");
        Assert.Equal(1UL, (await manager.SubmitAsync("f", 1).DefaultTimeout()).Sequence);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_PausedWithBufferWhilePaused_AcceptedAndProcessedAfterResume()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();
        await manager.StartAsync("f", "stepped", stepped, new StartOptions { BufferWhilePaused = true }).DefaultTimeout();
        using var events = manager.Subscribe("f");
        manager.Pause("f");

        var accepted = await manager.SubmitAsync("f", 5).DefaultTimeout();

        Assert.Equal(1UL, accepted.Sequence);
        Assert.Equal(1, accepted.QueueDepth);
        var parked = stepped.Parked.ReadAsync().AsTask();
        var taken = stepped.Taken.ReadAsync().AsTask();
        Assert.Same(parked, await Task.WhenAny(parked, taken).DefaultTimeout());
        Assert.Equal(0, manager.GetStatus("f").InputsProcessed);

        manager.Resume("f");
        Assert.Equal(5, await taken.DefaultTimeout());
        stepped.Finish();
        Assert.Equal(5, (await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output).DefaultTimeout()).Output);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_DuplicateSubmitId_ReturnsTheFirstSequenceAndEnqueuesOnce()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", new ProbeWorkflow()).DefaultTimeout();
        var first = await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();
        await manager.SubmitAsync("f", 2, submitId: "b").DefaultTimeout();

        var retry = await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();

        Assert.True(retry.Duplicate);
        Assert.False(first.Duplicate);
        Assert.Equal(first.Sequence, retry.Sequence);
        Assert.Equal(2, retry.QueueDepth);
        var status = manager.GetStatus("f");
        Assert.Equal(2, status.QueueDepth);
        Assert.Equal(2, status.InputsAccepted);
        Assert.Equal(3UL, (await manager.SubmitAsync("f", 3, submitId: "c").DefaultTimeout()).Sequence);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_RetriedAfterThePause_ReturnsDuplicateNotPaused()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", new ProbeWorkflow()).DefaultTimeout();
        var first = await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();
        manager.Pause("f");

        // The input was accepted before the pause: its retry must say so, not report a failure.
        var retry = await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();

        Assert.True(retry.Duplicate);
        Assert.Equal(first.Sequence, retry.Sequence);
        await ThrowsCodeAsync(FiberErrorCode.Paused, () => manager.SubmitAsync("f", 2, submitId: "b").AsTask());
        Assert.Equal(1, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_SubmitIdOlderThanTheMemory_IsAcceptedAgain()
    {
        var manager = NewManager(o => o.SubmitIdMemory = 2);
        await manager.StartAsync("f", "parked", new ProbeWorkflow()).DefaultTimeout();
        await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();
        await manager.SubmitAsync("f", 2, submitId: "b").DefaultTimeout();
        await manager.SubmitAsync("f", 3, submitId: "c").DefaultTimeout();

        var again = await manager.SubmitAsync("f", 1, submitId: "a").DefaultTimeout();
        var remembered = await manager.SubmitAsync("f", 3, submitId: "c").DefaultTimeout();

        Assert.False(again.Duplicate);
        Assert.Equal(4UL, again.Sequence);
        Assert.True(remembered.Duplicate);
        Assert.Equal(3UL, remembered.Sequence);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_PendingFiber_IsBufferedAndProcessedWhenItStarts()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "parked", new ProbeWorkflow()).DefaultTimeout();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
        using var events = manager.Subscribe("f");

        var accepted = await manager.SubmitAsync("f", 42).DefaultTimeout();
        Assert.Equal(1UL, accepted.Sequence);
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("f").Status);

        await manager.InterruptAsync("running").DefaultTimeout();
        var output = await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output).DefaultTimeout();
        Assert.Equal(42, output.Output);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Submit_UnknownFiber_ThrowsNotFound()
    {
        var manager = NewManager();

        var error = await ThrowsCodeAsync(FiberErrorCode.NotFound, () => manager.SubmitAsync("nobody", 1).AsTask());
        Assert.Equal("nobody", error.FiberId);
        await ThrowsCodeAsync(FiberErrorCode.InvalidFiberId, () => manager.SubmitAsync("no body", 1).AsTask());
    }

    [Fact]
    public async Task Submit_EndedFiber_ThrowsEndedWithItsStatus()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo()).DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();

        var error = await ThrowsCodeAsync(FiberErrorCode.Ended, () => manager.SubmitAsync("f", 2).AsTask());

        Assert.Equal("Interrupted", error.Metadata["status"]);
        Assert.Equal(1, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Submit_CancelledToken_ThrowsOperationCanceledAndEnqueuesNothing()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", new ProbeWorkflow()).DefaultTimeout();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => manager.SubmitAsync("f", 1, cancellationToken: new CancellationToken(true)).AsTask()).DefaultTimeout();

        Assert.Equal(0, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(1);
    }
}
