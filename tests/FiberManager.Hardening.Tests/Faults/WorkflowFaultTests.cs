using FiberManager.Client;
using FiberManager.Protocol;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using static FiberManager.Hardening.Tests.Faults.EventStreams;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// Workflows that misbehave, on the real service: whatever they do, the fiber ends through the
/// one cleanup path exactly once, its permit comes back, every accepted input is processed or
/// counted unprocessed, subscribers see the terminated event and then OK, and the service stays
/// healthy. Each test gets a fresh service and ends with the invariant check.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class WorkflowFaultTests : IAsyncLifetime
{
    private FaultHost _host = null!;

    private FiberManagerClient Client => _host.Client;

    private FaultSignals Signals => _host.Signals;

    public async Task InitializeAsync() => _host = await FaultHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static Struct Args(params (string Key, Value Value)[] fields)
    {
        var args = new Struct();
        foreach (var (key, value) in fields)
        {
            args.Fields[key] = value;
        }

        return args;
    }

    [Theory]
    [InlineData("async", "thrown at start")]
    [InlineData("sync", "thrown synchronously at start")]
    [InlineData("null-task", "Object reference not set")]
    [InlineData("own-cancel", "its own timeout")]
    public async Task ThrowAtStart_FailedTerminatedThenOk(string mode, string error)
    {
        var id = "throw-" + mode;
        await Client.StartAsync(id, FaultWorkflows.ThrowAtStart, Args(("mode", Value.ForString(mode)))).DefaultTimeout();

        var events = await CollectToEndAsync(Client.SubscribeAsync(id));

        var terminated = AssertWellFormed(events);
        Assert.Equal(V1.ExitKind.Failed, terminated.Exit.Kind);
        Assert.Contains(error, terminated.Exit.Message, StringComparison.Ordinal);
        Assert.Equal(0ul, terminated.Exit.InputsUnprocessed);
        var info = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(V1.FiberStatus.Failed, info.Status);
        Assert.Contains(error, info.LastError, StringComparison.Ordinal);
        Assert.Equal(1, Signals.Count(id, "hook"));
        await _host.EndAllAndAssertInvariantsAsync();
    }

    [Fact]
    public async Task ThrowAtStart_WithInputsQueued_AllCountedUnprocessed()
    {
        const string id = "throw-start-queued";
        await Client.StartAsync(id, FaultWorkflows.ThrowAtStart, Args(("wait", Value.ForBool(true)))).DefaultTimeout();
        await Signals.When(id, "started").DefaultTimeout();
        for (var i = 0; i < 5; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        var subscriber = CollectToEndAsync(Client.SubscribeAsync(id));
        Signals.Set(id, "go");

        var terminated = AssertWellFormed(await subscriber);
        Assert.Equal(V1.ExitKind.Failed, terminated.Exit.Kind);
        Assert.Equal(5ul, terminated.Exit.InputsUnprocessed);
        var late = await Assert.ThrowsAsync<RpcException>(() => Client.SubmitAsync(id, Value.ForString("late"))).DefaultTimeout();
        Assert.Equal(StatusCode.FailedPrecondition, late.StatusCode);
        var info = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(0ul, info.InputsProcessed);
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 5 });
    }

    [Fact]
    public async Task ThrowMidStream_AfterThreeInputs_UnprocessedEqualsWhatWasQueued()
    {
        const string id = "throw-after";
        await Client.StartAsync(id, FaultWorkflows.ThrowAfter, Args(("after", Value.ForNumber(3)))).DefaultTimeout();
        var subscriber = CollectToEndAsync(Client.SubscribeAsync(id));
        for (var i = 1; i <= 3; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        await Signals.When(id, "reached").DefaultTimeout();
        for (var i = 4; i <= 10; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        Assert.Equal(7u, (await Client.GetStatusAsync(id).DefaultTimeout()).QueueDepth);
        Signals.Set(id, "go");

        var events = await subscriber;
        var terminated = AssertWellFormed(events);
        Assert.Equal(new[] { 1.0, 2.0, 3.0 }, Outputs(events).Select(p => p.Json.NumberValue));
        Assert.Equal(V1.ExitKind.Failed, terminated.Exit.Kind);
        Assert.Contains("failed after 3 inputs", terminated.Exit.Message, StringComparison.Ordinal);
        Assert.Equal(7ul, terminated.Exit.InputsUnprocessed);
        var info = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(V1.FiberStatus.Failed, info.Status);
        Assert.Equal(3ul, info.InputsProcessed);
        Assert.Equal(1, Signals.Count(id, "hook"));
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 10 });
    }

    [Fact]
    public async Task HangIgnoringCancellation_Interrupt_AbandonedAfterGrace_PermitReleasedCountedLogged()
    {
        const string id = "hang";
        await Client.StartAsync(id, FaultWorkflows.Hang).DefaultTimeout();
        await Signals.When(id, "started").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("never read")).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("never read either")).DefaultTimeout();
        var subscriber = CollectToEndAsync(Client.SubscribeAsync(id));

        // No grace in the request: the configured (short) grace period applies.
        var final = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(V1.FiberStatus.Interrupted, final.Status);
        Assert.Equal(V1.ExitKind.Interrupted, final.Exit.Kind);
        Assert.Contains("abandoned", final.Exit.Message, StringComparison.Ordinal);
        Assert.Equal(2ul, final.Exit.InputsUnprocessed);
        Assert.False(Signals.IsSet(id, "released"), "the workflow is still running: it was abandoned, not awaited");
        var terminated = AssertWellFormed(await subscriber);
        Assert.Equal(V1.ExitKind.Interrupted, terminated.Exit.Kind);
        var stats = _host.Manager.GetStatistics();
        Assert.Equal(0, stats.PermitsInUse);
        Assert.Equal(1, stats.AbandonedFibers);
        Assert.Equal(1, _host.Logs.Count("WorkflowAbandoned"));
        Assert.Equal(1, Signals.Count(id, "hook"));
        await _host.AssertInvariantsAsync(new Dictionary<string, long> { [id] = 2 }, expectLive: 0);

        // Long after: the abandoned workflow wakes, is refused a publish, and fails. The ended
        // fiber keeps its final state; cleanup does not run again.
        Signals.Set(id, "release");
        await Signals.When(id, "released").DefaultTimeout();
        await _host.Client.StartAsync("after-hang", "echo").DefaultTimeout();
        await _host.Client.InterruptAsync("after-hang").DefaultTimeout();
        var after = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(V1.FiberStatus.Interrupted, after.Status);
        Assert.Equal(final.Exit, after.Exit);
        Assert.Equal(1, Signals.Count(id, "hook"));
        Assert.Equal(1, _host.Manager.GetStatistics().AbandonedFibers);
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 2 });
    }

    [Fact]
    public async Task HangIgnoringCancellation_ManyConcurrentInterruptsAndAReplace_CleanupRunsOnceEach()
    {
        const string id = "hang-many";
        await Client.StartAsync(id, FaultWorkflows.Hang).DefaultTimeout();
        await Signals.When(id, "started").DefaultTimeout();

        var finals = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Client.InterruptAsync(id))).DefaultTimeout();

        Assert.All(finals, f => Assert.Equal(finals[0].Exit, f.Exit));
        Assert.Equal(V1.FiberStatus.Interrupted, finals[0].Status);
        Assert.Equal(1, Signals.Count(id, "hook"));
        Assert.Equal(1, _host.Manager.GetStatistics().AbandonedFibers);
        Assert.Equal(1, _host.Logs.Count("WorkflowAbandoned"));

        // Replacing a fiber that ignores cancellation: the old one is abandoned after the grace, the new one runs.
        const string replaced = "hang-replaced";
        await Client.StartAsync(replaced, FaultWorkflows.Hang).DefaultTimeout();
        await Signals.When(replaced, "started").DefaultTimeout();
        var started = await Client.StartAsync(new V1.StartRequest { FiberId = replaced, Workflow = "echo", ConflictPolicy = V1.ConflictPolicy.Replace }).DefaultTimeout();
        Assert.True(started.Created);
        Assert.Equal("echo", started.Fiber.Workflow);
        Assert.Equal(1, Signals.Count(replaced, "hook"));
        Assert.Equal(2, _host.Manager.GetStatistics().AbandonedFibers);
        await using var outputs = Client.SubscribeAsync(replaced).GetAsyncEnumerator();
        await Client.SubmitAsync(replaced, Value.ForString("new one")).DefaultTimeout();

        // The replacement held the id as PENDING until the old one was abandoned: PENDING -> RUNNING comes first.
        Assert.True(await outputs.MoveNextAsync().AsTask().DefaultTimeout());
        Assert.Equal(V1.FiberStatus.Pending, outputs.Current.StatusChanged.Previous);
        Assert.True(await outputs.MoveNextAsync().AsTask().DefaultTimeout());
        Assert.Equal("new one", outputs.Current.Output.Json.StringValue);
        await _host.AssertInvariantsAsync(null, expectLive: 1);

        Signals.Set(id, "release");
        Signals.Set(replaced, "release");
        await Client.InterruptAsync(replaced).DefaultTimeout();
        while (await outputs.MoveNextAsync().AsTask().DefaultTimeout())
        {
        }

        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [replaced] = 1 });
    }

    [Fact]
    public async Task RestartBackoff_Interrupted_EndsAtOnceWithoutAnotherAttempt()
    {
        const string id = "backoff-interrupted";
        await Client.StartAsync(new V1.StartRequest
        {
            FiberId = id,
            Workflow = FaultWorkflows.AlwaysThrow,
            RestartPolicy = new V1.RestartPolicy
            {
                Mode = V1.RestartMode.OnFailure,
                MaxRestarts = 5,
                InitialBackoff = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
                MaxBackoff = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            },
        }).DefaultTimeout();
        await using (var events = Client.SubscribeAsync(id).GetAsyncEnumerator())
        {
            do
            {
                Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
            }
            while (events.Current.StatusChanged?.Current != V1.FiberStatus.BackingOff);
        }

        var final = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(V1.FiberStatus.Interrupted, final.Status);
        Assert.DoesNotContain("abandoned", final.Exit.Message, StringComparison.Ordinal);
        Assert.Equal(1u, final.Restarts);
        Assert.Equal(1, Signals.Count(id, "attempts"));
        Assert.Equal(1, Signals.Count(id, "hook"));
        await _host.EndAllAndAssertInvariantsAsync();
    }

    [Fact]
    public async Task FloodInATightLoop_SubscribersGetGaps_ControlStillAnswers_MemoryBounded()
    {
        const string id = "flood";
        const int published = 1_000_000;
        var before = GC.GetTotalMemory(forceFullCollection: true);
        await Client.StartAsync(id, FaultWorkflows.Flood, Args(("size", Value.ForNumber(256)), ("threshold", Value.ForNumber(published)))).DefaultTimeout();

        // One subscriber in-process that never reads, one over gRPC that reads as fast as it can.
        using var stalled = _host.Manager.Subscribe(id);
        using var cancel = new CancellationTokenSource(TestTimeouts.Default);
        var reader = Client.SubscribeAsync(id, cancellationToken: cancel.Token).GetAsyncEnumerator(cancel.Token);
        var seen = new List<V1.FiberEvent>();
        while (!seen.Any(e => e.EventCase == V1.FiberEvent.EventOneofCase.Gap))
        {
            Assert.True(seen.Count < 1_000_000, "a reader slower than the fiber never saw a gap");
            Assert.True(await reader.MoveNextAsync());
            seen.Add(reader.Current);
        }

        // Control calls answer while the loop runs (each bounded; the loop holds one thread).
        var bound = TimeSpan.FromSeconds(5);
        Assert.Equal(V1.FiberStatus.Paused, (await Client.PauseAsync(id).WaitAsync(bound)).Status);
        Assert.NotEqual(V1.FiberStatus.Paused, (await Client.ResumeAsync(id).WaitAsync(bound)).Status);
        Assert.Equal(id, (await Client.GetStatusAsync(id).WaitAsync(bound)).FiberId);

        // A million events later, with a subscriber that never read one, memory has not grown with them.
        await Signals.When(id, "threshold").DefaultTimeout();
        var growth = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.True(growth < 64L * 1024 * 1024, $"memory grew by {growth / 1024 / 1024} MiB while publishing {published} events");

        var final = await Client.InterruptAsync(id).WaitAsync(bound);
        Assert.Equal(V1.FiberStatus.Interrupted, final.Status);
        Assert.DoesNotContain("abandoned", final.Exit.Message, StringComparison.Ordinal);

        while (await reader.MoveNextAsync())
        {
            seen.Add(reader.Current);
        }

        await reader.DisposeAsync();
        var terminated = AssertWellFormed(seen);
        Assert.Equal(V1.ExitKind.Interrupted, terminated.Exit.Kind);

        // The subscriber that never read holds at most its buffer, then a gap, then the terminated event.
        var stalledEvents = new List<Core.Management.FiberEvent<V1.Payload>>();
        await foreach (var e in stalled.ReadAllAsync(cancel.Token))
        {
            stalledEvents.Add(e);
        }

        Assert.True(stalledEvents.Count <= FaultHost.SubscriberBuffer + 2, $"the stalled subscriber buffered {stalledEvents.Count} events");
        Assert.Contains(stalledEvents, e => e.Kind == Core.Management.FiberEventKind.Gap);
        Assert.Equal(Core.Management.FiberEventKind.Terminated, stalledEvents[^1].Kind);
        var previous = stalledEvents[0].Sequence - 1; // it subscribed after the loop began: it starts in the replay window
        foreach (var e in stalledEvents)
        {
            Assert.True(e.Kind == Core.Management.FiberEventKind.Gap ? e.GapFrom == previous + 1 && e.GapTo == e.Sequence : e.Sequence == previous + 1, $"event {e.Sequence} ({e.Kind}) after {previous}");
            previous = e.Sequence;
        }

        stalled.Dispose();
        await _host.EndAllAndAssertInvariantsAsync();
    }

    [Fact]
    public async Task AllocatingHeavily_OtherFibersKeepServing()
    {
        const int allocInputs = 30;
        const int echoInputs = 100;
        string[] allocators = ["alloc-0", "alloc-1"];
        string[] echoes = ["echo-0", "echo-1", "echo-2"];
        foreach (var id in allocators)
        {
            await Client.StartAsync(id, FaultWorkflows.Allocate, Args(("megabytes", Value.ForNumber(8)))).DefaultTimeout();
        }

        foreach (var id in echoes)
        {
            await Client.StartAsync(id, "echo").DefaultTimeout();
        }

        async Task AllocateAsync(string id)
        {
            await using var outputs = Client.SubscribeAsync(id).GetAsyncEnumerator();
            for (var i = 0; i < allocInputs; i++)
            {
                await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
            }

            // It subscribed after some outputs may have left the replay window: read up to the last one.
            ulong last = 0;
            while (last < allocInputs)
            {
                Assert.True(await outputs.MoveNextAsync().AsTask().DefaultTimeout());
                Assert.NotEqual(V1.FiberEvent.EventOneofCase.Terminated, outputs.Current.EventCase); // outputs, or a gap if this reader fell behind
                last = outputs.Current.Sequence;
            }
        }

        async Task EchoAsync(string id)
        {
            await using var outputs = Client.SubscribeAsync(id).GetAsyncEnumerator();
            for (var i = 0; i < echoInputs; i++)
            {
                await Client.SubmitAsync(id, Value.ForString($"{id}:{i}")).DefaultTimeout();
                Assert.True(await outputs.MoveNextAsync().AsTask().DefaultTimeout());
                Assert.Equal($"{id}:{i}", outputs.Current.Output.Json.StringValue);
            }
        }

        await Task.WhenAll(allocators.Select(AllocateAsync).Concat(echoes.Select(EchoAsync))).WaitAsync(TimeSpan.FromSeconds(60));

        var accepted = allocators.ToDictionary(id => id, _ => (long)allocInputs);
        foreach (var id in echoes)
        {
            accepted[id] = echoInputs;
        }

        await _host.EndAllAndAssertInvariantsAsync(accepted);
        foreach (var id in accepted.Keys)
        {
            Assert.Equal((ulong)accepted[id], (await Client.GetStatusAsync(id).DefaultTimeout()).InputsProcessed);
        }
    }

    [Theory]
    [InlineData("throw")]
    [InlineData("throw-sync")]
    [InlineData("hang")]
    public async Task FailingTerminateHook_CleanupCompletes_HookRunsOnce_Logged(string hook)
    {
        var id = "hook-" + hook;
        await Client.StartAsync(id, FaultWorkflows.FailingHook, Args(("hook", Value.ForString(hook)))).DefaultTimeout();
        await using var subscriber = Client.SubscribeAsync(id).GetAsyncEnumerator();
        await Client.SubmitAsync(id, Value.ForString("a")).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("b")).DefaultTimeout();
        var events = new List<V1.FiberEvent>();
        while (events.Count < 2)
        {
            Assert.True(await subscriber.MoveNextAsync().AsTask().DefaultTimeout());
            events.Add(subscriber.Current);
        }

        var final = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(V1.FiberStatus.Interrupted, final.Status);
        Assert.DoesNotContain("abandoned", final.Exit.Message, StringComparison.Ordinal);
        while (await subscriber.MoveNextAsync().AsTask().DefaultTimeout())
        {
            events.Add(subscriber.Current);
        }

        var terminated = AssertWellFormed(events);
        Assert.Equal(new[] { "a", "b" }, Outputs(events).Select(p => p.Json.StringValue));
        Assert.Equal(V1.ExitKind.Interrupted, terminated.Exit.Kind);
        Assert.Equal(1, Signals.Count(id, "hook"));
        Assert.Equal(1, _host.Logs.Count("TerminateHookFailed"));
        await _host.AssertInvariantsAsync(new Dictionary<string, long> { [id] = 2 }, expectLive: 0);

        // The id is free again.
        await Client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = "echo" }).DefaultTimeout();
        await _host.EndAllAndAssertInvariantsAsync();
    }

    [Fact]
    public async Task RestartOnFailure_AlwaysThrows_BacksOffThenFailsAfterMaxRestarts()
    {
        const string id = "always-throw";
        await Client.StartAsync(new V1.StartRequest
        {
            FiberId = id,
            Workflow = FaultWorkflows.AlwaysThrow,
            RestartPolicy = new V1.RestartPolicy
            {
                Mode = V1.RestartMode.OnFailure,
                MaxRestarts = 3,
                InitialBackoff = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(10)),
                MaxBackoff = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(40)),
            },
        }).DefaultTimeout();

        // Inputs race the failing attempts: each is accepted (and then never processed) or refused.
        long accepted = 0;
        for (var i = 0; i < 5; i++)
        {
            try
            {
                await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
                accepted++;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.FailedPrecondition)
            {
            }
        }

        var events = await CollectToEndAsync(Client.SubscribeAsync(id));

        var terminated = AssertWellFormed(events);
        var statuses = events.Where(e => e.EventCase == V1.FiberEvent.EventOneofCase.StatusChanged).Select(e => (e.StatusChanged.Previous, e.StatusChanged.Current)).ToList();
        Assert.Equal(3, statuses.Count(s => s.Current == V1.FiberStatus.BackingOff));
        Assert.Equal(3, statuses.Count(s => s.Previous == V1.FiberStatus.BackingOff));
        Assert.Equal(V1.ExitKind.Failed, terminated.Exit.Kind);
        Assert.Contains("attempt 3 failed", terminated.Exit.Message, StringComparison.Ordinal);
        Assert.Equal((ulong)accepted, terminated.Exit.InputsUnprocessed);
        var info = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(V1.FiberStatus.Failed, info.Status);
        Assert.Equal(3u, info.Restarts);
        Assert.Equal(4, Signals.Count(id, "attempts"));
        Assert.Equal(1, Signals.Count(id, "hook"));
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = accepted });
    }
}

[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    public const string Name = "Faults";
}
