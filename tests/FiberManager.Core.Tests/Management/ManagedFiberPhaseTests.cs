using System.Collections.Concurrent;
using FiberManager.Core.Fibers;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// The phase machine of one managed fiber, driven directly (no supervisor): every transition of
/// the table in <see cref="ManagedFiber{TInput, TOutput}"/>'s remarks, what the fiber holds in
/// each phase, and the calls it makes to its owner (each at most once, never under its lock).
/// The races that can be forced are forced with sync points; the others are hammered in
/// Stress/ManagedFiberStressTests.
/// </summary>
public sealed class ManagedFiberPhaseTests : IAsyncLifetime
{
    private readonly Harness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    [Fact]
    public async Task Created_AdmitWithAFreePermit_Running_HoldsItAndNeverCountedAsPending()
    {
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);
        Assert.Equal(ManagedFiberPhase.Created, fiber.Phase);

        Assert.Equal(ManagedFiber<int, int>.Admission.Running, fiber.Admit(_harness.Permits, mayQueue: true));

        Assert.Equal(ManagedFiberPhase.Running, fiber.Phase);
        Assert.True(fiber.HoldsPermit);
        Assert.True(fiber.HasRun);
        Assert.True(fiber.Admitted.IsCompleted);
        await probe.Started.Task.DefaultTimeout();
        Assert.Empty(_harness.Calls);
        Assert.Equal(1, _harness.Permits.InUse);
    }

    [Fact]
    public void Created_AdmitWithoutAPermit_Pending_OrUnchangedWhenItMayNotQueue()
    {
        _harness.TakeEveryPermit();
        var queued = _harness.NewFiber(new ProbeWorkflow());
        var refused = _harness.NewFiber(new ProbeWorkflow());

        Assert.Equal(ManagedFiber<int, int>.Admission.Queued, queued.Admit(_harness.Permits, mayQueue: true));
        Assert.Equal(ManagedFiber<int, int>.Admission.NoPermit, refused.Admit(_harness.Permits, mayQueue: false));

        Assert.Equal(ManagedFiberPhase.Pending, queued.Phase);
        Assert.Equal(ManagedFiberStatus.Pending, queued.Status);
        Assert.False(queued.HoldsPermit);
        Assert.False(queued.Admitted.IsCompleted);
        Assert.Equal(ManagedFiberPhase.Created, refused.Phase);
        Assert.Equal(1, _harness.Permits.Waiting);
    }

    [Fact]
    public async Task Pending_PermitGranted_Running_TellsTheOwnerOnce_AndPublishesPendingToRunning()
    {
        _harness.TakeEveryPermit();
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);
        fiber.Admit(_harness.Permits, mayQueue: true);
        using var events = fiber.Subscribe(0);

        _harness.Permits.Release();

        Assert.Equal(ManagedFiberPhase.Running, fiber.Phase);
        Assert.True(fiber.HoldsPermit);
        await fiber.Admitted.DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        Assert.Equal(["granted"], _harness.Calls);
        Assert.True((await events.NextAsync()).IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Running));
    }

    [Fact]
    public async Task Pending_PermitGrantedWhilePaused_PublishesPendingToPaused()
    {
        _harness.TakeEveryPermit();
        var fiber = _harness.NewFiber(new ProbeWorkflow(), new StartOptions { StartPaused = true });
        fiber.Admit(_harness.Permits, mayQueue: true);
        using var events = fiber.Subscribe(0);

        _harness.Permits.Release();

        Assert.True((await events.NextAsync()).IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Paused));
        Assert.Equal(ManagedFiberStatus.Paused, fiber.Status);
    }

    [Fact]
    public async Task AwaitingPredecessor_AdmittedWithAFreePermit_Running_LeavesPendingOnce()
    {
        var predecessor = Gate.Create();
        var fiber = _harness.NewFiber(new ProbeWorkflow());
        fiber.AwaitPredecessors(predecessor.Task);
        Assert.Equal(ManagedFiberPhase.AwaitingPredecessor, fiber.Phase);
        Assert.Equal(ManagedFiberStatus.Pending, fiber.Status);
        Assert.False(fiber.Admitted.IsCompleted);
        using var events = fiber.Subscribe(0);

        predecessor.SetResult();
        Assert.Equal(ManagedFiber<int, int>.Admission.Running, fiber.Admit(_harness.Permits, mayQueue: true));

        Assert.Equal(ManagedFiberPhase.Running, fiber.Phase);
        Assert.Equal(["granted"], _harness.Calls);
        await fiber.Admitted.DefaultTimeout();
        Assert.True((await events.NextAsync()).IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Running));
    }

    [Fact]
    public void AwaitingPredecessor_AdmittedWithoutAPermit_Pending()
    {
        _harness.TakeEveryPermit();
        var fiber = _harness.NewFiber(new ProbeWorkflow());
        fiber.AwaitPredecessors(Task.CompletedTask);

        Assert.Equal(ManagedFiber<int, int>.Admission.Queued, fiber.Admit(_harness.Permits, mayQueue: true));

        Assert.Equal(ManagedFiberPhase.Pending, fiber.Phase);
        Assert.Empty(_harness.Calls);
    }

    [Fact]
    public async Task AwaitingPredecessor_Interrupted_EndsAtOnceHoldingNothing_AndAnAdmitAfterwardsFindsItEnded()
    {
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);
        fiber.AwaitPredecessors(Gate.Create().Task);

        await fiber.InterruptAsync(TimeSpan.FromSeconds(5), "replace").DefaultTimeout();

        Assert.Equal(ManagedFiberPhase.Ended, fiber.Phase);
        Assert.Equal(["ending", "ended holding=False"], _harness.Calls);
        var final = fiber.Snapshot();
        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Equal("replace", final.Termination!.Reason);
        Assert.False(final.Termination.StartFailed);
        Assert.Equal(ManagedFiber<int, int>.Admission.Ended, fiber.Admit(_harness.Permits, mayQueue: true));
        Assert.Equal(0, probe.Runs);
        Assert.Equal(0, _harness.Permits.InUse);
        Assert.True(fiber.Admitted.IsCompleted);
    }

    [Fact]
    public async Task Pending_InterruptedWhileQueued_LeavesTheQueue_EndsHoldingNothing()
    {
        _harness.TakeEveryPermit();
        var fiber = _harness.NewFiber(new ProbeWorkflow());
        fiber.Admit(_harness.Permits, mayQueue: true);
        await _harness.Submit(fiber, 1);

        await fiber.InterruptAsync(TimeSpan.FromSeconds(5), "interrupt").DefaultTimeout();

        Assert.Equal(ManagedFiberPhase.Ended, fiber.Phase);
        Assert.Equal(0, _harness.Permits.Waiting);
        Assert.Equal(["ending", "ended holding=False"], _harness.Calls);
        Assert.Equal(1, fiber.Snapshot().Termination!.InputsUnprocessed);

        // Its place in the queue is gone: the next permit goes to nobody.
        _harness.Permits.Release();
        Assert.Equal(0, _harness.Permits.InUse);
    }

    [Fact]
    public async Task Pending_WithdrawnByItsStart_EndsAsAFailedStart_ButNotOnceRunning()
    {
        _harness.TakeEveryPermit();
        var withdrawn = _harness.NewFiber(new ProbeWorkflow());
        withdrawn.Admit(_harness.Permits, mayQueue: true);

        Assert.True(await withdrawn.TryWithdrawAsync("permit timeout").DefaultTimeout());

        Assert.True(withdrawn.StartFailed);
        Assert.Equal("permit timeout", withdrawn.Snapshot().Termination!.Reason);
        var running = _harness.NewFiber(new ProbeWorkflow());
        _harness.Permits.Release();
        running.Admit(_harness.Permits, mayQueue: true);
        Assert.False(await running.TryWithdrawAsync("permit timeout").DefaultTimeout());
        Assert.Equal(ManagedFiberPhase.Running, running.Phase);
    }

    [Fact]
    public async Task Running_WorkflowReturns_Terminating_ThenEnded_CleanupInDesignOrderAndOnce()
    {
        var finish = Gate.Create();
        var hookEntered = Gate.Create();
        var leaveHook = Gate.Create();
        ManagedFiber<int, int>? fiber = null;
        var phaseInHook = ManagedFiberPhase.Created;
        var probe = new ProbeWorkflow(_ => finish.Task)
        {
            Hook = async (_, _) =>
            {
                phaseInHook = fiber!.Phase;
                hookEntered.SetResult();
                await leaveHook.Task;
            },
        };
        fiber = _harness.NewFiber(probe);
        fiber.Admit(_harness.Permits, mayQueue: true);
        using var events = fiber.Subscribe(0);
        await probe.Started.Task.DefaultTimeout();

        finish.SetResult();
        await hookEntered.Task.DefaultTimeout();

        // In the hook: the status is final, the owner count fell, the permit is still held.
        Assert.Equal(ManagedFiberPhase.Terminating, phaseInHook);
        Assert.Equal(ManagedFiberStatus.Completed, fiber.Status);
        Assert.True(fiber.HoldsPermit);
        Assert.Equal(["ending"], _harness.Calls);
        Assert.False(events.TryRead(out _));

        leaveHook.SetResult();
        await fiber.Ended.DefaultTimeout();
        Assert.Equal(ManagedFiberPhase.Ended, fiber.Phase);
        Assert.False(fiber.HoldsPermit);
        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
        Assert.Equal(0, _harness.Permits.InUse);
        var terminated = await events.NextAsync();
        Assert.Equal(FiberEventKind.Terminated, terminated.Kind);
        Assert.Equal(ManagedFiberStatus.Running, terminated.PreviousStatus);
        Assert.Single(probe.Terminations);
    }

    [Fact]
    public async Task Running_AttemptFails_BackingOff_ThenRunningAgain_ThenFailedWhenTheBudgetIsSpent()
    {
        var probe = new ProbeWorkflow(_ => throw new TestException("boom"));
        var fiber = _harness.NewFiber(probe, new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(1)) });
        using var events = fiber.Subscribe(0);
        fiber.Admit(_harness.Permits, mayQueue: true);

        Assert.True((await events.NextAsync()).IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff));
        Assert.Equal(ManagedFiberPhase.BackingOff, fiber.Phase);
        Assert.True(fiber.HoldsPermit);
        await _harness.Clock.WaitForTimersAsync(1).DefaultTimeout();
        _harness.Clock.Advance(TimeSpan.FromSeconds(1));

        Assert.True((await events.NextAsync()).IsStatus(ManagedFiberStatus.BackingOff, ManagedFiberStatus.Running));
        Assert.Equal(FiberEventKind.Terminated, (await events.NextAsync()).Kind);
        await fiber.Ended.DefaultTimeout();
        var final = fiber.Snapshot();
        Assert.Equal(ManagedFiberStatus.Failed, final.Status);
        Assert.Equal(1, final.Restarts);
        Assert.Equal(2, probe.Runs);
        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
    }

    [Fact]
    public async Task BackingOff_Interrupted_EndsWithoutAnotherAttempt_ReleasingItsPermit()
    {
        var probe = new ProbeWorkflow(_ => throw new TestException("boom"));
        var fiber = _harness.NewFiber(probe, new StartOptions { Restart = RestartPolicy.OnFailure(3, TimeSpan.FromMinutes(1)) });
        using var events = fiber.Subscribe(0);
        fiber.Admit(_harness.Permits, mayQueue: true);
        await events.ReadUntilAsync(e => e.Status == ManagedFiberStatus.BackingOff).DefaultTimeout();

        await fiber.InterruptAsync(TimeSpan.FromSeconds(5), "interrupt").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, fiber.Status);
        Assert.Equal(1, probe.Runs);
        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
        Assert.Equal(0, _harness.Permits.InUse);
        await TestTimeouts.UntilAsync(() => _harness.Clock.ActiveTimerCount == 0, "no timer is left");
    }

    [Fact]
    public async Task Running_IgnoresItsInterrupt_AbandonedWhenTheGraceExpires_TheLateEndChangesNothing()
    {
        var release = Gate.Create();
        var probe = new ProbeWorkflow(_ => release.Task);
        var fiber = _harness.NewFiber(probe);
        fiber.Admit(_harness.Permits, mayQueue: true);
        await probe.Started.Task.DefaultTimeout();

        var interrupt = fiber.InterruptAsync(TimeSpan.FromSeconds(2), "interrupt");
        await _harness.Clock.WaitForTimersAsync(1).DefaultTimeout();
        Assert.Equal(ManagedFiberPhase.Running, fiber.Phase);
        _harness.Clock.Advance(TimeSpan.FromSeconds(2));
        await interrupt.DefaultTimeout();

        Assert.Equal(ManagedFiberPhase.Ended, fiber.Phase);
        Assert.True(fiber.Snapshot().Termination!.Abandoned);
        Assert.Equal(1, _harness.Environment.Abandoned);
        release.SetResult(); // the workflow returns at last: it is over already
        await TestTimeouts.UntilAsync(() => probe.Terminations.Length == 1, "the hook ran");
        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
        Assert.Equal(0, _harness.Permits.InUse);
    }

    [Fact]
    public async Task Running_BodyNeverRan_ItsScopeWasClosed_EndsInterrupted()
    {
        await _harness.Environment.Scope.CloseAsync().DefaultTimeout();
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);

        fiber.Admit(_harness.Permits, mayQueue: true);

        await fiber.Ended.DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Interrupted, fiber.Status);
        Assert.Equal(0, probe.Runs);
        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
        Assert.Equal(0, _harness.Permits.InUse);
    }

    [Fact]
    public async Task Running_InterruptedTwiceAtOnce_OneCleanup_BothSeeTheEnd()
    {
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);
        fiber.Admit(_harness.Permits, mayQueue: true);
        await probe.Started.Task.DefaultTimeout();

        await Task.WhenAll(fiber.InterruptAsync(TimeSpan.FromSeconds(5), "a"), fiber.InterruptAsync(TimeSpan.FromSeconds(5), "b")).DefaultTimeout();

        Assert.Equal(["ending", "ended holding=True"], _harness.Calls);
        Assert.Contains(fiber.Snapshot().Termination!.Reason, new[] { "a", "b" });
        Assert.Single(probe.Terminations);
    }

    [Fact]
    public async Task Interrupt_ClosesTheInput_ASubmitAfterwardsIsRefusedAsEndedInterrupted()
    {
        var release = Gate.Create();
        var probe = new ProbeWorkflow(_ => release.Task);
        var fiber = _harness.NewFiber(probe);
        fiber.Admit(_harness.Permits, mayQueue: true);
        await probe.Started.Task.DefaultTimeout();
        var interrupt = fiber.InterruptAsync(TimeSpan.FromMinutes(1), "interrupt");

        var refused = await Assert.ThrowsAsync<FiberSupervisorException>(async () => await _harness.Submit(fiber, 1)).DefaultTimeout();

        Assert.Equal(FiberErrorCode.Ended, refused.Code);
        Assert.Equal("Interrupted", refused.Metadata["status"]);
        release.SetResult();
        await interrupt.DefaultTimeout();
    }

    [Fact]
    public async Task OwnerCallbacks_NeverUnderTheFibersLock()
    {
        var probe = new ProbeWorkflow();
        var fiber = _harness.NewFiber(probe);
        _harness.OnCallback = () => Assert.True(Task.Run(() => fiber.Status).Wait(TestTimeouts.Default), "another thread can take the fiber's lock");
        _harness.TakeEveryPermit();
        fiber.Admit(_harness.Permits, mayQueue: true);
        _harness.Permits.Release();
        await probe.Started.Task.DefaultTimeout();

        await fiber.InterruptAsync(TimeSpan.FromSeconds(5), "interrupt").DefaultTimeout();

        Assert.Equal(["granted", "ending", "ended holding=True"], _harness.Calls);
    }

    /// <summary>An owner that records what a fiber tells it and releases a held permit, as the supervisor does.</summary>
    private sealed class Harness : IManagedFiberOwner<int, int>, IAsyncDisposable
    {
        private readonly ConcurrentQueue<string> _calls = new();
        private readonly FiberRuntime _runtime;
        private readonly SupervisorSettings _settings = new FiberSupervisorOptions { MaxConcurrentFibers = 1 }.ToSettings();

        public Harness()
        {
            _runtime = new FiberRuntime(Clock);
            Environment = new FiberEnvironment(
                _settings,
                Clock,
                _runtime.CreateScope(),
                new FiberSupervisorLog(NullLogger.Instance),
                NullLogger.Instance,
                new FiberSupervisorMetrics(null, () => default, () => new Dictionary<ManagedFiberStatus, int>()));
        }

        public ManualTimeProvider Clock { get; } = new();

        public PermitPool Permits { get; } = new(1);

        public FiberEnvironment Environment { get; }

        public string[] Calls => [.. _calls];

        /// <summary>Runs inside every callback.</summary>
        public Action? OnCallback { get; set; }

        public ManagedFiber<int, int> NewFiber(IWorkflow<int, int> workflow, StartOptions? options = null) =>
            new(this, Environment, "f", workflow, (options ?? StartOptions.Default).Validate("probe", _settings));

        public void TakeEveryPermit() => Assert.True(Permits.TryAcquire());

        public ValueTask<SubmitResult> Submit(ManagedFiber<int, int> fiber, int value) =>
            fiber.SubmitAsync(value, null, FullQueueMode.Reject, CancellationToken.None);

        public void OnPermitGranted(ManagedFiber<int, int> fiber) => Record("granted");

        public void OnEnding(ManagedFiber<int, int> fiber) => Record("ending");

        public void OnEnded(ManagedFiber<int, int> fiber, bool heldPermit)
        {
            Record($"ended holding={heldPermit}");
            if (heldPermit)
            {
                Permits.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _runtime.DisposeAsync().DefaultTimeout();
            Environment.Metrics.Dispose();
        }

        private void Record(string call)
        {
            OnCallback?.Invoke();
            _calls.Enqueue(call);
        }
    }
}
