using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// Every way a fiber ends runs the same cleanup exactly once: final status, the on-terminate
/// hook, the terminated event, the permit released, the entry retained.
/// </summary>
public sealed class TerminationTests : ManagerTestBase
{
    /// <summary>Checks the cleanup of <paramref name="id"/>: hook once, terminated event once (the same termination), permit released, retained.</summary>
    private static async Task<FiberTermination> AssertCleanedUpAsync(
        FiberSupervisor<int, int> manager, string id, ProbeWorkflow probe, FiberSubscription<int> subscription, ManagedFiberStatus status)
    {
        var events = await subscription.ReadToEndAsync().DefaultTimeout();
        var terminated = Assert.Single(events, e => e.Kind == FiberEventKind.Terminated);
        Assert.Equal(FiberEventKind.Terminated, events[^1].Kind);
        Assert.Equal(status, terminated.Status);
        var hook = Assert.Single(probe.Terminations);
        Assert.Same(hook, terminated.Termination);
        Assert.Equal(status, hook.Status);
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().LiveFibers == 0, "the fiber is retained");
        var info = manager.GetStatus(id);
        Assert.Equal(status, info.Status);
        Assert.Same(hook, info.Termination);
        Assert.Equal(1, manager.GetStatistics().RetainedFibers);
        manager.AssertSettled(0);
        return hook;
    }

    [Fact]
    public async Task Terminate_WorkflowReturns_CompletedAndCleanedUpOnce()
    {
        var manager = NewManager();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(_ => finish.Task);
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        finish.SetResult();
        var termination = await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Completed);

        Assert.Null(termination.Error);
        Assert.Null(termination.Reason);
        Assert.False(termination.Abandoned);
        Assert.Null(manager.GetStatus("f").LastError);
    }

    [Fact]
    public async Task Terminate_WorkflowThrows_FailedWithLastErrorAndCleanedUpOnce()
    {
        var manager = NewManager();
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(async _ =>
        {
            await fail.Task;
            throw new InvalidOperationException("boom");
        });
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        fail.SetResult();
        var termination = await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Failed);

        Assert.IsType<InvalidOperationException>(termination.Error);
        Assert.Equal("boom", termination.ErrorMessage);
        Assert.Equal(1, termination.InputsUnprocessed);
        Assert.Null(termination.Reason);
        Assert.Equal("boom", manager.GetStatus("f").LastError);
    }

    [Fact]
    public async Task Terminate_Interrupt_InterruptedAndCleanedUpOnce()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        await manager.InterruptAsync("f").DefaultTimeout();
        var termination = await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Interrupted);

        Assert.Equal("interrupt", termination.Reason);
        Assert.False(termination.Abandoned);
    }

    [Fact]
    public async Task Terminate_GracePeriodExpires_AbandonedAndCleanedUpOnce()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(_ => new TaskCompletionSource().Task);
        await manager.StartAsync("f", "stubborn", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        var interrupt = manager.InterruptAsync("f", TimeSpan.FromSeconds(1));
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1));
        await interrupt.DefaultTimeout();
        var termination = await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Interrupted);

        Assert.True(termination.Abandoned);
        Assert.Equal(1, manager.GetStatistics().AbandonedFibers);
    }

    [Fact]
    public async Task Shutdown_Dispose_EveryFiberGetsItsTerminatedEventWithReasonShutdown()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 2);
        var probes = new Dictionary<string, ProbeWorkflow>();
        var subscriptions = new Dictionary<string, FiberSubscription<int>>();
        foreach (var id in new[] { "a", "b", "pending" })
        {
            probes[id] = new ProbeWorkflow();
            await manager.StartAsync(id, "probe", probes[id], new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
            subscriptions[id] = manager.Subscribe(id);
        }

        await probes["a"].Started.Task.DefaultTimeout();
        await manager.SubmitAsync("b", 1).DefaultTimeout();

        await manager.DisposeAsync().DefaultTimeout();

        foreach (var (id, subscription) in subscriptions)
        {
            var terminated = Assert.Single(await subscription.ReadToEndAsync().DefaultTimeout(), e => e.Kind == FiberEventKind.Terminated);
            Assert.Equal(ManagedFiberStatus.Interrupted, terminated.Status);
            Assert.Equal("shutdown", terminated.Termination!.Reason);
            Assert.Equal("shutdown", Assert.Single(probes[id].Terminations).Reason);
            Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus(id).Status);
            subscription.Dispose();
        }

        Assert.Equal(1, manager.GetStatus("b").Termination!.InputsUnprocessed);
        Assert.Equal(0, probes["pending"].Runs);
        var statistics = manager.GetStatistics();
        Assert.True(statistics.ShuttingDown);
        Assert.Equal(0, statistics.LiveFibers);
        Assert.Equal(0, statistics.PendingFibers);
        Assert.Equal(0, statistics.PermitWaiters);
        Assert.Equal(0, statistics.AbandonedFibers);
        manager.AssertSettled(0);

        await ThrowsCodeAsync(FiberErrorCode.ShuttingDown, () => manager.StartAsync("new", "probe", new ProbeWorkflow()));
        await ThrowsCodeAsync(FiberErrorCode.Ended, () => manager.SubmitAsync("a", 1).AsTask());
        await manager.DisposeAsync().DefaultTimeout();
    }

    [Fact]
    public async Task Shutdown_WorkflowIgnoringCancellation_AbandonedWhenTheGracePeriodExpires()
    {
        var manager = NewManager(o => o.InterruptGracePeriod = TimeSpan.FromSeconds(3));
        var stubborn = new ProbeWorkflow(_ => new TaskCompletionSource().Task);
        var polite = new ProbeWorkflow();
        await manager.StartAsync("stubborn", "probe", stubborn).DefaultTimeout();
        await manager.StartAsync("polite", "probe", polite).DefaultTimeout();
        await stubborn.Started.Task.DefaultTimeout();

        var shutdown = manager.DisposeAsync().AsTask();
        await polite.HookCalled.Task.DefaultTimeout();
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Assert.False(shutdown.IsCompleted);
        Clock.Advance(TimeSpan.FromSeconds(3));
        await shutdown.DefaultTimeout();

        Assert.True(manager.GetStatus("stubborn").Termination!.Abandoned);
        Assert.False(manager.GetStatus("polite").Termination!.Abandoned);
        Assert.Equal("shutdown", Assert.Single(stubborn.Terminations).Reason);
        Assert.Equal(1, manager.GetStatistics().AbandonedFibers);
        Assert.Equal(0, manager.GetStatistics().LiveFibers);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Shutdown_StartWaitingForAPermit_FailsShuttingDownAndItsFiberEndsUnregistered()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var waiting = new ProbeWorkflow();
        var start = manager.StartAsync("waiting", "probe", waiting);
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().PermitWaiters == 1, "the start waits");

        await manager.DisposeAsync().DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.ShuttingDown, () => start);
        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("waiting"));
        Assert.Equal("shutdown", Assert.Single(waiting.Terminations).Reason);
        Assert.Equal(0, waiting.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Restart_BudgetExhausted_BacksOffBetweenAttemptsThenFails()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(ctx => throw new InvalidOperationException($"boom {ctx.Attempt}"));
        await manager.StartAsync("f", "probe", probe, new StartOptions { Restart = RestartPolicy.OnFailure(2, TimeSpan.FromSeconds(1)) }).DefaultTimeout();
        using var subscription = manager.Subscribe("f");
        var seen = new List<FiberEvent<int>>();

        // First failure: backing off for 1 s.
        await subscription.ReadUntilAsync(e => e.IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff), seen).DefaultTimeout();
        var backingOff = manager.GetStatus("f");
        Assert.Equal(ManagedFiberStatus.BackingOff, backingOff.Status);
        Assert.Equal(1, backingOff.Restarts);
        Assert.Equal("boom 0", backingOff.LastError);
        Assert.Equal(1, manager.GetStatistics().PermitsInUse);
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.Equal(1, probe.Runs);
        Clock.Advance(TimeSpan.FromTicks(1));

        // Second failure: the backoff doubles.
        await subscription.ReadUntilAsync(e => e.IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff), seen).DefaultTimeout();
        Assert.Equal(2, probe.Runs);
        Assert.Equal(2, manager.GetStatus("f").Restarts);
        Assert.Equal("boom 1", manager.GetStatus("f").LastError);
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, probe.Runs);
        Assert.Equal(ManagedFiberStatus.BackingOff, manager.GetStatus("f").Status);
        Clock.Advance(TimeSpan.FromSeconds(1));

        // Third failure: the budget is spent.
        var termination = await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Failed);
        Assert.Equal("boom 2", termination.ErrorMessage);
        Assert.Equal(3, probe.Runs);
        var final = manager.GetStatus("f");
        Assert.Equal(2, final.Restarts);
        Assert.Equal("boom 2", final.LastError);
        using var replay = manager.Subscribe("f");
        var all = await replay.ReadToEndAsync().DefaultTimeout();
        Assert.Equal(2, all.Count(e => e.IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff)));
        Assert.Equal(2, all.Count(e => e.IsStatus(ManagedFiberStatus.BackingOff, ManagedFiberStatus.Running)));
        Assert.Equal(5, all.Count);
    }

    [Fact]
    public async Task Restart_InputQueueAndSubscriptionSurviveARestart()
    {
        var manager = NewManager();
        var fail = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(async ctx =>
        {
            if (ctx.Attempt == 0)
            {
                ctx.Publish(await ctx.Input.ReadAsync(ctx.CancellationToken));
                await fail.Task;
                throw new InvalidOperationException("first attempt fails");
            }

            await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
            {
                ctx.Publish(item);
            }
        });
        await manager.StartAsync("f", "probe", probe, new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(1)) }).DefaultTimeout();
        using var subscription = manager.Subscribe("f");
        await manager.SubmitAsync("f", 1).DefaultTimeout();
        var seen = new List<FiberEvent<int>>();
        await subscription.ReadUntilAsync(e => e.Output == 1, seen).DefaultTimeout();

        // Accepted before the failure, processed by the next attempt.
        await manager.SubmitAsync("f", 2).DefaultTimeout();
        await manager.SubmitAsync("f", 3).DefaultTimeout();
        fail.SetResult();
        await subscription.ReadUntilAsync(e => e.Status == ManagedFiberStatus.BackingOff, seen).DefaultTimeout();
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1));
        await subscription.ReadUntilAsync(e => e.Output == 3, seen).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();
        seen.AddRange(await subscription.ReadToEndAsync().DefaultTimeout());

        Assert.Equal([1, 2, 3], seen.Where(e => e.Kind == FiberEventKind.Output).Select(e => e.Output));
        Assert.Equal(Enumerable.Range(1, seen.Count).Select(n => (ulong)n), seen.Select(e => e.Sequence));
        Assert.True(seen[1].IsStatus(ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff));
        Assert.True(seen[2].IsStatus(ManagedFiberStatus.BackingOff, ManagedFiberStatus.Running));
        Assert.Equal(FiberEventKind.Terminated, seen[^1].Kind);
        var final = manager.GetStatus("f");
        Assert.Equal(1, final.Restarts);
        Assert.Equal(3, final.InputsProcessed);
        Assert.Equal(0, final.Termination!.InputsUnprocessed);
        Assert.Single(probe.Terminations);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Restart_InterruptedWhileBackingOff_EndsInterruptedWithoutAnotherAttempt()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(_ => throw new InvalidOperationException("boom"));
        await manager.StartAsync("f", "probe", probe, new StartOptions { Restart = RestartPolicy.OnFailure(5, TimeSpan.FromMinutes(1)) }).DefaultTimeout();
        await manager.UntilStatusAsync("f", ManagedFiberStatus.BackingOff);

        var final = await manager.InterruptAsync("f").DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Equal("interrupt", final.Termination!.Reason);
        Assert.Equal(1, probe.Runs);
        Assert.Single(probe.Terminations);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Restart_WorkflowFailsWhileBeingInterrupted_IsNotRestarted()
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
                throw new InvalidOperationException("failed while stopping");
            }
        });
        await manager.StartAsync("f", "probe", probe, new StartOptions { Restart = RestartPolicy.OnFailure(3, TimeSpan.Zero) }).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        var final = await manager.InterruptAsync("f").DefaultTimeout();

        // It failed (and says so), but no restart was counted, announced or run.
        Assert.Equal(ManagedFiberStatus.Failed, final.Status);
        Assert.Equal("failed while stopping", final.LastError);
        Assert.Equal(1, probe.Runs);
        Assert.Equal(0, final.Restarts);
        Assert.DoesNotContain(await subscription.ReadToEndAsync().DefaultTimeout(), e => e.Status == ManagedFiberStatus.BackingOff);
        Assert.Single(probe.Terminations);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Restart_PausedWhileBackingOff_NextAttemptStartsPaused()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(ctx => ctx.Attempt == 0 ? throw new InvalidOperationException("boom") : Task.Delay(Timeout.Infinite, ctx.CancellationToken));
        await manager.StartAsync("f", "probe", probe, new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(1)) }).DefaultTimeout();
        using var subscription = manager.Subscribe("f");
        await subscription.ReadUntilAsync(e => e.Status == ManagedFiberStatus.BackingOff).DefaultTimeout();

        Assert.Equal(ManagedFiberStatus.BackingOff, manager.Pause("f").Status);
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1));

        var next = await subscription.ReadUntilAsync(e => e.Kind == FiberEventKind.StatusChanged).DefaultTimeout();
        Assert.True(next.IsStatus(ManagedFiberStatus.BackingOff, ManagedFiberStatus.Paused));
        Assert.Equal(ManagedFiberStatus.Paused, manager.GetStatus("f").Status);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Cleanup_InsideTheHook_StatusIsFinalButTheEventIsNotPublishedAndThePermitIsHeld()
    {
        var manager = NewManager();
        FiberSubscription<int>? subscription = null;
        ManagedFiberStatus statusInHook = default;
        List<FiberEvent<int>>? eventsInHook = null;
        var permitsInHook = -1;
        var liveInHook = -1;
        var probe = new ProbeWorkflow(_ => Task.CompletedTask)
        {
            Hook = (_, _) =>
            {
                statusInHook = manager.GetStatus("f").Status;
                eventsInHook = subscription!.Drain();
                permitsInHook = manager.GetStatistics().PermitsInUse;
                liveInHook = manager.GetStatistics().LiveFibers;
                return ValueTask.CompletedTask;
            },
        };
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gated = new ProbeWorkflow(async ctx =>
        {
            await gate.Task;
            await probe.RunAsync(ctx);
        })
        {
            Hook = probe.OnTerminateAsync,
        };
        await manager.StartAsync("f", "probe", gated).DefaultTimeout();
        subscription = manager.Subscribe("f");

        gate.SetResult();
        await probe.HookCalled.Task.DefaultTimeout();
        var after = await subscription.ReadToEndAsync().DefaultTimeout();
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().LiveFibers == 0, "the fiber is retained");

        Assert.Equal(ManagedFiberStatus.Completed, statusInHook);
        Assert.NotNull(eventsInHook);
        Assert.DoesNotContain(eventsInHook, e => e.Kind == FiberEventKind.Terminated);
        Assert.Equal(1, permitsInHook);
        Assert.Equal(1, liveInHook);
        Assert.Equal(FiberEventKind.Terminated, Assert.Single(after).Kind);
        subscription.Dispose();
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Cleanup_HookThrows_CleanupStillCompletes()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow(_ => Task.CompletedTask) { Hook = (_, _) => throw new InvalidOperationException("hook failed") };
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gated = new ProbeWorkflow(async ctx => await gate.Task) { Hook = probe.OnTerminateAsync };
        await manager.StartAsync("f", "probe", gated).DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        gate.SetResult();
        await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Completed);
        Assert.Single(gated.Terminations);
    }

    [Fact]
    public async Task Cleanup_HookFailsAsynchronously_CleanupStillCompletes()
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow
        {
            Hook = async (_, _) =>
            {
                await Task.Yield();
                throw new InvalidOperationException("hook failed");
            },
        };
        await manager.StartAsync("f", "probe", probe).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        await manager.InterruptAsync("f").DefaultTimeout();
        await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Interrupted);
    }

    [Fact]
    public async Task Cleanup_HookHangs_BoundedByTheTerminateHookTimeout()
    {
        var manager = NewManager(o => o.TerminateHookTimeout = TimeSpan.FromSeconds(3));
        var hookToken = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(_ => Task.CompletedTask)
        {
            Hook = (_, token) =>
            {
                hookToken.TrySetResult(token);
                return new ValueTask(new TaskCompletionSource().Task); // ignores its token too
            },
        };
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gated = new ProbeWorkflow(async ctx => await gate.Task) { Hook = probe.OnTerminateAsync };
        await manager.StartAsync("f", "probe", gated).DefaultTimeout();
        using var subscription = manager.Subscribe("f");

        gate.SetResult();
        var token = await hookToken.Task.DefaultTimeout();
        await Clock.WaitForTimersAsync(2).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(3) - TimeSpan.FromTicks(1));
        Assert.False(token.IsCancellationRequested);
        Assert.Empty(subscription.Drain());
        Assert.Equal(1, manager.GetStatistics().PermitsInUse);
        Clock.Advance(TimeSpan.FromTicks(1));

        Assert.True(token.IsCancellationRequested);
        await AssertCleanedUpAsync(manager, "f", probe, subscription, ManagedFiberStatus.Completed);
    }
}
