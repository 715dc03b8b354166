using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class StartTests : ManagerTestBase
{
    private const string AllowedCharacters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

    public static TheoryData<string> InvalidIds => new()
    {
        string.Empty,
        new string('a', 129),
        "a b",
        "caf\u00e9",
        "a\u0001b",
        "tab\there",
        "slash/no",
    };

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public async Task Start_InvalidId_ThrowsInvalidFiberId(string id)
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();

        await ThrowsCodeAsync(FiberErrorCode.InvalidFiberId, () => manager.StartAsync(id, "probe", probe));

        Assert.Equal(0, manager.GetStatistics().LiveFibers);
        Assert.Equal(0, probe.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_128CharactersOfTheAllowedSet_Succeeds()
    {
        var manager = NewManager();
        var id = string.Concat(Enumerable.Range(0, 128).Select(i => AllowedCharacters[i % AllowedCharacters.Length]));
        Assert.Equal(128, id.Length);

        var result = await manager.StartAsync(id, "echo", TestWorkflows.Echo()).DefaultTimeout();

        Assert.True(result.Created);
        Assert.Equal(id, result.Fiber.FiberId);
        Assert.Equal(id, manager.GetStatus(id).FiberId);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_EmptyWorkflowName_ThrowsInvalidArgument()
    {
        var manager = NewManager();

        await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.StartAsync("f", " ", TestWorkflows.Echo()));
        manager.AssertSettled(0);
    }

    public static TheoryData<StartOptions> InvalidOptions => new()
    {
        new StartOptions { RequestId = new string('r', 129) },
        new StartOptions { PermitTimeout = TimeSpan.FromTicks(-1) },
        new StartOptions { Restart = RestartPolicy.OnFailure(-1) },
        new StartOptions { Restart = RestartPolicy.OnFailure(1_001) },
        new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(-1)) },
        new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)) },
        new StartOptions { Restart = RestartPolicy.OnFailure(1, TimeSpan.FromSeconds(1), TimeSpan.FromDays(2)) },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public async Task Start_InvalidOptions_ThrowsInvalidArgument(StartOptions options)
    {
        var manager = NewManager();
        var probe = new ProbeWorkflow();

        await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.StartAsync("f", "probe", probe, options));

        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("f"));
        Assert.Equal(0, probe.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_ConflictFail_ThrowsAlreadyExistsAndLeavesTheFiberRunning()
    {
        var manager = NewManager();
        var first = new ProbeWorkflow();
        var second = new ProbeWorkflow();
        await manager.StartAsync("f", "first", first).DefaultTimeout();
        await first.Started.Task.DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.AlreadyExists, () => manager.StartAsync("f", "second", second));

        var status = manager.GetStatus("f");
        Assert.Equal("first", status.Workflow);
        Assert.False(status.Status.IsTerminal());
        Assert.Equal(0, second.Runs);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_ConflictUseExisting_ReturnsTheExistingFiberNotCreated()
    {
        var manager = NewManager();
        var first = new ProbeWorkflow();
        var second = new ProbeWorkflow();
        var created = await manager.StartAsync("f", "first", first).DefaultTimeout();

        var again = await manager.StartAsync("f", "second", second, new StartOptions { Conflict = IdConflictPolicy.UseExisting }).DefaultTimeout();

        Assert.False(again.Created);
        Assert.Equal("first", again.Fiber.Workflow);
        Assert.Equal(created.Fiber.CreatedAt, again.Fiber.CreatedAt);
        Assert.Equal(0, second.Runs);
        Assert.Equal(1, manager.GetStatistics().LiveFibers);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_ConflictReplace_OldIsInterruptedWithReasonReplaceAndNewRuns()
    {
        var manager = NewManager();
        var first = new ProbeWorkflow();
        var second = new ProbeWorkflow();
        await manager.StartAsync("f", "first", first).DefaultTimeout();
        await first.Started.Task.DefaultTimeout();
        using var oldEvents = manager.Subscribe("f");

        var replaced = await manager.StartAsync("f", "second", second, new StartOptions { Conflict = IdConflictPolicy.Replace }).DefaultTimeout();

        Assert.True(replaced.Created);
        Assert.Equal("second", replaced.Fiber.Workflow);
        await second.Started.Task.DefaultTimeout();
        var events = await oldEvents.ReadToEndAsync().DefaultTimeout();
        var terminated = Assert.Single(events, e => e.Kind == FiberEventKind.Terminated);
        Assert.Equal(ManagedFiberStatus.Interrupted, terminated.Status);
        Assert.Equal("replace", terminated.Termination!.Reason);
        var hook = Assert.Single(first.Terminations);
        Assert.Equal("replace", hook.Reason);
        Assert.Equal("second", manager.GetStatus("f").Workflow);
        Assert.Empty(second.Terminations);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_ConflictReplace_NewFiberIsStoredBeforeTheOldOneIsInterrupted()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        var hookEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseHook = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new ProbeWorkflow
        {
            Hook = async (_, _) =>
            {
                hookEntered.TrySetResult();
                await releaseHook.Task;
            },
        };
        var second = new SteppedWorkflow();
        await manager.StartAsync("f", "first", first).DefaultTimeout();
        await first.Started.Task.DefaultTimeout();
        using var oldEvents = manager.Subscribe("f");

        // Admission REJECT with a limit of 1: the new fiber must get the old one's permit.
        var start = manager.StartAsync("f", "second", second, new StartOptions { Conflict = IdConflictPolicy.Replace, Admission = AdmissionMode.Reject });
        await hookEntered.Task.DefaultTimeout(); // the old one is ending and still holds its permit

        // The id already resolves to the new fiber: Pending, buffering input, open to subscribers.
        var pending = manager.GetStatus("f");
        Assert.Equal("second", pending.Workflow);
        Assert.Equal(ManagedFiberStatus.Pending, pending.Status);
        Assert.Equal(1UL, (await manager.SubmitAsync("f", 5).DefaultTimeout()).Sequence);
        using var newEvents = manager.Subscribe("f");
        Assert.False(start.IsCompleted);
        Assert.Equal(1, manager.GetStatistics().PermitsInUse);
        Assert.Equal(1, manager.GetStatistics().PendingFibers);
        manager.CheckInvariants();

        releaseHook.SetResult();
        var result = await start.DefaultTimeout();

        Assert.True(result.Created);
        Assert.Equal(5, await second.Taken.ReadAsync().AsTask().DefaultTimeout());
        var terminated = Assert.Single(await oldEvents.ReadToEndAsync().DefaultTimeout(), e => e.Kind == FiberEventKind.Terminated);
        Assert.Equal("replace", terminated.Termination!.Reason);
        Assert.True((await newEvents.NextAsync().DefaultTimeout()).IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Running));
        Assert.Equal("second", manager.GetStatus("f").Workflow);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_ConflictReplace_NewFiberInterruptedBeforeTheOldOneEnded_EndsWithoutRunning()
    {
        var manager = NewManager();
        var releaseHook = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hookEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new ProbeWorkflow
        {
            Hook = async (_, _) =>
            {
                hookEntered.TrySetResult();
                await releaseHook.Task;
            },
        };
        var second = new ProbeWorkflow();
        await manager.StartAsync("f", "first", first).DefaultTimeout();
        await first.Started.Task.DefaultTimeout();
        var start = manager.StartAsync("f", "second", second, new StartOptions { Conflict = IdConflictPolicy.Replace });
        await hookEntered.Task.DefaultTimeout();

        var interrupted = await manager.InterruptAsync("f").DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Interrupted, interrupted.Status);
        Assert.Equal("second", interrupted.Workflow);
        Assert.False(start.IsCompleted); // it still waits for the old one
        releaseHook.SetResult();

        var result = await start.DefaultTimeout();
        Assert.True(result.Created);
        Assert.Equal(ManagedFiberStatus.Interrupted, result.Fiber.Status);
        Assert.Equal(0, second.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_SameRequestId_ReturnsTheSameFiberNotCreated()
    {
        var manager = NewManager();
        var first = new ProbeWorkflow();
        var retry = new ProbeWorkflow();
        var options = new StartOptions { RequestId = "req-1" };
        var created = await manager.StartAsync("f", "probe", first, options).DefaultTimeout();

        var again = await manager.StartAsync("f", "probe", retry, options).DefaultTimeout();

        Assert.True(created.Created);
        Assert.False(again.Created);
        Assert.Equal("req-1", again.Fiber.RequestId);
        Assert.Equal(created.Fiber.CreatedAt, again.Fiber.CreatedAt);
        Assert.Equal(0, retry.Runs);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_SameRequestIdAfterTheFiberEnded_ReturnsTheRetainedFiber()
    {
        var manager = NewManager();
        var options = new StartOptions { RequestId = "req-1" };
        await manager.StartAsync("f", "probe", new ProbeWorkflow(), options).DefaultTimeout();
        await manager.InterruptAsync("f").DefaultTimeout();
        var retry = new ProbeWorkflow();

        var again = await manager.StartAsync("f", "probe", retry, options).DefaultTimeout();

        Assert.False(again.Created);
        Assert.Equal(ManagedFiberStatus.Interrupted, again.Fiber.Status);
        Assert.Equal(0, retry.Runs);
        manager.AssertSettled(0);

        var fresh = await manager.StartAsync("f", "probe", retry, new StartOptions { RequestId = "req-2" }).DefaultTimeout();
        Assert.True(fresh.Created);
        await retry.Started.Task.DefaultTimeout();
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionRejectWithNoFreePermit_ThrowsConcurrencyLimitReached()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var rejected = new ProbeWorkflow();

        await ThrowsCodeAsync(
            FiberErrorCode.ConcurrencyLimitReached,
            () => manager.StartAsync("rejected", "probe", rejected, new StartOptions { Admission = AdmissionMode.Reject }));

        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("rejected"));
        Assert.Equal(0, rejected.Runs);
        Assert.Equal(0, manager.GetStatistics().PendingFibers);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionQueue_ReturnsPendingAtOnceAndStartsInFifoOrder()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var order = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var probes = new Dictionary<string, ProbeWorkflow>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            var probe = new ProbeWorkflow(ctx =>
            {
                order.Enqueue(ctx.FiberId);
                return Task.Delay(Timeout.Infinite, ctx.CancellationToken);
            });
            probes[id] = probe;
            var result = await manager.StartAsync(id, "probe", probe, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
            Assert.True(result.Created);
            Assert.Equal(ManagedFiberStatus.Pending, result.Fiber.Status);
            Assert.Null(result.Fiber.StartedAt);
        }

        var statistics = manager.GetStatistics();
        Assert.Equal(3, statistics.PendingFibers);
        Assert.Equal(3, statistics.PermitWaiters);
        manager.AssertSettled(1);

        using var aEvents = manager.Subscribe("a");
        await manager.InterruptAsync("running").DefaultTimeout();
        await probes["a"].Started.Task.DefaultTimeout();
        await aEvents.ReadUntilAsync(e => e.IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Running)).DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("b").Status);
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("c").Status);

        await manager.InterruptAsync("a").DefaultTimeout();
        await probes["b"].Started.Task.DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("c").Status);

        await manager.InterruptAsync("b").DefaultTimeout();
        await probes["c"].Started.Task.DefaultTimeout();

        Assert.Equal(["a", "b", "c"], order);
        Assert.Equal(0, manager.GetStatistics().PendingFibers);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionWait_CompletesWhenAPermitFrees()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var waiting = new ProbeWorkflow();

        var start = manager.StartAsync("waiting", "probe", waiting, new StartOptions { Admission = AdmissionMode.Wait });
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().PermitWaiters == 1, "the start waits for a permit");
        Assert.False(start.IsCompleted);
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("waiting").Status);

        await manager.InterruptAsync("running").DefaultTimeout();
        var result = await start.DefaultTimeout();

        Assert.True(result.Created);
        Assert.NotEqual(ManagedFiberStatus.Pending, result.Fiber.Status);
        Assert.NotNull(result.Fiber.StartedAt);
        await waiting.Started.Task.DefaultTimeout();
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionWaitEndedByShutdown_ThrowsShuttingDownAndLeavesNothingRegistered()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var waiting = new ProbeWorkflow();
        var start = manager.StartAsync("waiting", "probe", waiting, new StartOptions { Admission = AdmissionMode.Wait });
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().PermitWaiters == 1, "the start waits for a permit");

        await manager.DisposeAsync().DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.ShuttingDown, () => start);
        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("waiting"));
        Assert.Equal(["running"], manager.List().Fibers.Select(f => f.FiberId));
        Assert.Equal(0, waiting.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_AdmissionWaitTimesOut_ThrowsConcurrencyLimitReachedAndEndsThePendingFiber()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var waiting = new ProbeWorkflow();

        var start = manager.StartAsync("waiting", "probe", waiting, new StartOptions { PermitTimeout = TimeSpan.FromSeconds(10) });
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.False(start.IsCompleted);
        Clock.Advance(TimeSpan.FromTicks(1));

        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => start);
        var ended = manager.GetStatus("waiting");
        Assert.Equal(ManagedFiberStatus.Interrupted, ended.Status);
        Assert.Null(ended.StartedAt);
        Assert.Single(waiting.Terminations);
        var statistics = manager.GetStatistics();
        Assert.Equal(0, statistics.PendingFibers);
        Assert.Equal(0, statistics.PermitWaiters);
        manager.AssertSettled(1);

        // No permit leaked to the abandoned waiter: freeing the running one frees everything.
        await manager.InterruptAsync("running").DefaultTimeout();
        Assert.Equal(0, waiting.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_RetriedWithTheRequestIdOfAStartThatTimedOut_TriesAgain()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var options = new StartOptions { RequestId = "req-1", PermitTimeout = TimeSpan.FromSeconds(1) };
        var start = manager.StartAsync("f", "probe", new ProbeWorkflow(), options);
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(1));
        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => start);
        await manager.InterruptAsync("running").DefaultTimeout();

        // The first Start failed; its retry is not answered with the fiber that failed to start.
        var retry = new ProbeWorkflow();
        var result = await manager.StartAsync("f", "probe", retry, options).DefaultTimeout();

        Assert.True(result.Created);
        await retry.Started.Task.DefaultTimeout();
        Assert.False(manager.GetStatus("f").Status.IsTerminal());
        var again = await manager.StartAsync("f", "probe", new ProbeWorkflow(), options).DefaultTimeout();
        Assert.False(again.Created);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionWaitWithoutTimeout_UsesTheDefaultPermitTimeout()
    {
        var manager = NewManager(o =>
        {
            o.MaxConcurrentFibers = 1;
            o.DefaultPermitTimeout = TimeSpan.FromSeconds(3);
        });
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();

        var start = manager.StartAsync("waiting", "probe", new ProbeWorkflow());
        await Clock.WaitForTimersAsync(1).DefaultTimeout();
        Clock.Advance(TimeSpan.FromSeconds(3));

        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => start);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AdmissionWaitCallerCancels_ThrowsOperationCanceledAndEndsThePendingFiber()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var waiting = new ProbeWorkflow();
        using var cts = new CancellationTokenSource();

        var start = manager.StartAsync("waiting", "probe", waiting, cancellationToken: cts.Token);
        await TestTimeouts.UntilAsync(() => manager.GetStatistics().PermitWaiters == 1, "the start waits for a permit");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start).DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Interrupted, manager.GetStatus("waiting").Status);
        Assert.Equal(0, manager.GetStatistics().PendingFibers);
        Assert.Equal(0, manager.GetStatistics().PermitWaiters);
        manager.AssertSettled(1);

        await manager.InterruptAsync("running").DefaultTimeout();
        Assert.Equal(0, waiting.Runs);
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_MorePendingThanMaxPendingFibers_ThrowsConcurrencyLimitReached()
    {
        var manager = NewManager(o =>
        {
            o.MaxConcurrentFibers = 1;
            o.MaxPendingFibers = 2;
        });
        var queue = new StartOptions { Admission = AdmissionMode.Queue };
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        await manager.StartAsync("p1", "probe", new ProbeWorkflow(), queue).DefaultTimeout();
        await manager.StartAsync("p2", "probe", new ProbeWorkflow(), queue).DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => manager.StartAsync("p3", "probe", new ProbeWorkflow(), queue));
        await ThrowsCodeAsync(FiberErrorCode.ConcurrencyLimitReached, () => manager.StartAsync("w3", "probe", new ProbeWorkflow()));

        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("p3"));
        Assert.Equal(2, manager.GetStatistics().PendingFibers);
        manager.AssertSettled(1);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(9)]
    public async Task Start_InputCapacityOutOfRange_ThrowsInvalidArgument(int capacity)
    {
        var manager = NewManager(o =>
        {
            o.DefaultInputCapacity = 4;
            o.MaxInputCapacity = 8;
        });

        await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { InputCapacity = capacity }));
        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("f"));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_InputCapacity_IsReportedAndDefaults()
    {
        var manager = NewManager(o =>
        {
            o.DefaultInputCapacity = 4;
            o.MaxInputCapacity = 8;
        });

        var largest = await manager.StartAsync("max", "echo", TestWorkflows.Echo(), new StartOptions { InputCapacity = 8 }).DefaultTimeout();
        var byDefault = await manager.StartAsync("default", "echo", TestWorkflows.Echo()).DefaultTimeout();

        Assert.Equal(8, largest.Fiber.InputCapacity);
        Assert.Equal(4, byDefault.Fiber.InputCapacity);
        manager.AssertSettled(2);
    }

    [Fact]
    public async Task Start_Labels_AreReported()
    {
        var manager = NewManager();
        var labels = new Dictionary<string, string> { ["tenant"] = "acme", ["tier"] = "gold" };

        var result = await manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { Labels = labels }).DefaultTimeout();
        labels["tenant"] = "changed later";

        Assert.Equal("acme", result.Fiber.Labels["tenant"]);
        Assert.Equal("acme", manager.GetStatus("f").Labels["tenant"]);
        Assert.Equal("gold", manager.GetStatus("f").Labels["tier"]);
        manager.AssertSettled(1);
    }

    public static TheoryData<Dictionary<string, string>> InvalidLabels => new()
    {
        new Dictionary<string, string> { [string.Empty] = "v" },
        new Dictionary<string, string> { [new string('k', 64)] = "v" },
        new Dictionary<string, string> { ["k"] = new string('v', 257) },
        new Dictionary<string, string> { ["k\n"] = "v" },
        new Dictionary<string, string> { ["k"] = "v\u0000" },
        new Dictionary<string, string> { ["a"] = "1", ["b"] = "2", ["c"] = "3" },
    };

    [Theory]
    [MemberData(nameof(InvalidLabels))]
    public async Task Start_InvalidLabels_ThrowsInvalidArgument(Dictionary<string, string> labels)
    {
        var manager = NewManager(o => o.MaxLabels = 2);

        await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { Labels = labels }));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Start_StartPaused_RunsButHandsOutNothingUntilResumed()
    {
        var manager = NewManager();
        var stepped = new SteppedWorkflow();

        var result = await manager.StartAsync("f", "stepped", stepped, new StartOptions { StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Paused, result.Fiber.Status);
        Assert.True(result.Fiber.Paused);
        using var events = manager.Subscribe("f");
        var submitted = await manager.SubmitAsync("f", 7).DefaultTimeout();
        Assert.Equal(1, submitted.QueueDepth);

        // The reader parks on the closed gate instead of taking the queued input.
        var parked = stepped.Parked.ReadAsync().AsTask();
        var taken = stepped.Taken.ReadAsync().AsTask();
        Assert.Same(parked, await Task.WhenAny(parked, taken).DefaultTimeout());
        Assert.Equal(0, manager.GetStatus("f").InputsProcessed);

        manager.Resume("f");
        Assert.Equal(7, await taken.DefaultTimeout());
        stepped.Finish();
        var output = await events.ReadUntilAsync(e => e.Kind == FiberEventKind.Output).DefaultTimeout();
        Assert.Equal(7, output.Output);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_StartPausedWithoutBuffering_RejectsSubmitWithPaused()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "echo", TestWorkflows.Echo(), new StartOptions { StartPaused = true }).DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.Paused, () => manager.SubmitAsync("f", 1).AsTask());
        Assert.Equal(0, manager.GetStatus("f").InputsAccepted);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_QueuedWhilePaused_StartsPausedWhenItsPermitArrives()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "probe", new ProbeWorkflow()).DefaultTimeout();
        var queued = new ProbeWorkflow();
        await manager.StartAsync("queued", "probe", queued, new StartOptions { Admission = AdmissionMode.Queue, StartPaused = true }).DefaultTimeout();
        using var events = manager.Subscribe("queued");

        await manager.InterruptAsync("running").DefaultTimeout();
        await queued.Started.Task.DefaultTimeout();

        var change = await events.ReadUntilAsync(e => e.Kind == FiberEventKind.StatusChanged).DefaultTimeout();
        Assert.True(change.IsStatus(ManagedFiberStatus.Pending, ManagedFiberStatus.Paused));
        Assert.Equal(ManagedFiberStatus.Paused, manager.GetStatus("queued").Status);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_SameIdWhileTheOldFibersCleanupRuns_StartsOnceItHasEnded()
    {
        var manager = NewManager();
        var releaseHook = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var old = new ProbeWorkflow(_ => Task.CompletedTask) { Hook = (_, _) => new ValueTask(releaseHook.Task) };
        await manager.StartAsync("f", "old", old).DefaultTimeout();
        await old.HookCalled.Task.DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Completed, manager.GetStatus("f").Status);

        // The old fiber has ended (its status is final): its id is not taken by a live fiber.
        var next = new ProbeWorkflow();
        var start = manager.StartAsync("f", "next", next);
        releaseHook.SetResult();
        var result = await start.DefaultTimeout();

        Assert.True(result.Created);
        Assert.Equal("next", result.Fiber.Workflow);
        await next.Started.Task.DefaultTimeout();
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Start_AfterShutdown_ThrowsShuttingDown()
    {
        var manager = NewManager();
        await manager.DisposeAsync().DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.ShuttingDown, () => manager.StartAsync("f", "echo", TestWorkflows.Echo()));
        Assert.True(manager.GetStatistics().ShuttingDown);
    }
}
