using System.Collections.Concurrent;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>Runs the stress tests on their own, so that their load does not disturb timing-sensitive tests elsewhere.</summary>
[CollectionDefinition(nameof(StressTests), DisableParallelization = true)]
public sealed class StressCollection;

/// <summary>
/// Races between manager operations, hammered from several threads. Each test is seeded, releases
/// its workers together through a gate, waits on the manual clock for nothing (all fibers are
/// cooperative), and ends by checking the invariants and shutting the manager down.
/// </summary>
[Collection(nameof(StressTests))]
public sealed class StressTests : ManagerTestBase
{
    /// <summary>Invariants hold and permits in use are exactly the live fibers that have started.</summary>
    private static void AssertConsistent(FiberSupervisor<int, int> manager)
    {
        manager.CheckInvariants();
        var statistics = manager.GetStatistics();
        var live = manager.List(new FiberQuery { PageSize = 1_000 }).Fibers.Where(f => !f.Status.IsTerminal()).ToList();
        Assert.Equal(statistics.LiveFibers, live.Count);
        Assert.Equal(live.Count(f => f.Status != ManagedFiberStatus.Pending), statistics.PermitsInUse);
        Assert.Equal(live.Count(f => f.Status == ManagedFiberStatus.Pending), statistics.PendingFibers);
    }

    /// <summary>Shuts down and checks that nothing is left running or holding anything.</summary>
    private static async Task AssertShutDownAsync(FiberSupervisor<int, int> manager, Func<int> workflowsRunning)
    {
        await manager.DisposeAsync().DefaultTimeout();
        manager.CheckInvariants();
        var statistics = manager.GetStatistics();
        Assert.Equal(0, statistics.LiveFibers);
        Assert.Equal(0, statistics.PermitsInUse);
        Assert.Equal(0, statistics.PendingFibers);
        Assert.Equal(0, statistics.PermitWaiters);
        Assert.Equal(0, statistics.AbandonedFibers);
        Assert.Equal(0, workflowsRunning());
    }

    private static Task[] RunTogether(TaskCompletionSource go, int count, Func<int, Task> body) =>
        [.. Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            await go.Task;
            await body(i);
        }))];

    private static TaskCompletionSource NewGate() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Stress_SubmitVsInterrupt_EveryAcceptedInputIsProcessedOrReportedUnprocessed()
    {
        var random = new Random(1001);
        var manager = NewManager(o => o.MaxConcurrentFibers = 64);
        var running = 0;
        for (var round = 0; round < 40; round++)
        {
            var id = $"f{round}";
            var processed = 0;
            var counter = Workflow.Create<int, int>(async ctx =>
            {
                Interlocked.Increment(ref running);
                try
                {
                    await foreach (var _ in ctx.Input.ReadAllAsync(ctx.CancellationToken))
                    {
                        Interlocked.Increment(ref processed);
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref running);
                }
            });
            await manager.StartAsync(id, "counter", counter, new StartOptions { InputCapacity = 1 + random.Next(8) }).DefaultTimeout();
            using var events = manager.Subscribe(id);
            var accepted = 0;
            var ended = 0;
            var interruptAfter = random.Next(300);
            var go = NewGate();
            var submitters = RunTogether(go, 4, async s =>
            {
                for (var i = 0; i < 100; i++)
                {
                    try
                    {
                        var result = await manager.SubmitAsync(id, i, FullQueueMode.Wait);
                        Assert.False(result.Duplicate);
                        Interlocked.Increment(ref accepted);
                    }
                    catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.Ended)
                    {
                        Interlocked.Increment(ref ended);
                    }
                }
            });
            var interrupter = Task.Run(async () =>
            {
                await go.Task;
                while (Volatile.Read(ref accepted) + Volatile.Read(ref ended) < interruptAfter)
                {
                    await Task.Yield();
                }

                return await manager.InterruptAsync(id);
            });
            go.SetResult();
            await Task.WhenAll(submitters).DefaultTimeout();
            var final = await interrupter.DefaultTimeout();
            var terminated = (await events.ReadToEndAsync().DefaultTimeout()).Single(e => e.Kind == FiberEventKind.Terminated);

            Assert.Equal(400, accepted + ended);
            Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
            var unprocessed = terminated.Termination!.InputsUnprocessed;
            Assert.Equal(final.Termination!.InputsUnprocessed, unprocessed);
            Assert.Equal(accepted, processed + unprocessed);
            var status = manager.GetStatus(id);
            Assert.Equal(accepted, status.InputsAccepted);
            Assert.Equal(processed, status.InputsProcessed);
        }

        AssertConsistent(manager);
        Assert.Equal(0, manager.GetStatistics().PermitsInUse);
        await AssertShutDownAsync(manager, () => Volatile.Read(ref running));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stress_PauseVsSubmit_InputsAreAcceptedOrRejectedAsPausedAndNoneIsLost(bool bufferWhilePaused)
    {
        var random = new Random(bufferWhilePaused ? 2002 : 2001);
        var manager = NewManager(o => o.SubscriberBufferCapacity = 100_000);
        var processed = 0;
        var running = 0;
        var counter = Workflow.Create<int, int>(async ctx =>
        {
            Interlocked.Increment(ref running);
            try
            {
                await foreach (var _ in ctx.Input.ReadAllAsync(ctx.CancellationToken))
                {
                    Interlocked.Increment(ref processed);
                }
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        });
        await manager.StartAsync("f", "counter", counter, new StartOptions { InputCapacity = 4, BufferWhilePaused = bufferWhilePaused }).DefaultTimeout();
        using var events = manager.Subscribe("f");
        var accepted = 0;
        var paused = 0;
        var seeds = Enumerable.Range(0, 2).Select(_ => random.Next()).ToArray();
        var go = NewGate();
        var submitters = RunTogether(go, 3, async s =>
        {
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    await manager.SubmitAsync("f", i, FullQueueMode.Wait);
                    Interlocked.Increment(ref accepted);
                }
                catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.Paused)
                {
                    Interlocked.Increment(ref paused);
                }
            }
        });
        var togglers = RunTogether(go, 2, async t =>
        {
            var r = new Random(seeds[t]);
            for (var i = 0; i < 300; i++)
            {
                if (r.Next(2) == 0)
                {
                    manager.Pause("f");
                }
                else
                {
                    manager.Resume("f");
                }

                if (r.Next(4) == 0)
                {
                    await Task.Yield();
                }
            }

            manager.Resume("f");
        });
        go.SetResult();
        await Task.WhenAll(togglers).DefaultTimeout();
        await Task.WhenAll(submitters).DefaultTimeout();
        var final = await manager.InterruptAsync("f").DefaultTimeout();

        Assert.Equal(900, accepted + paused);
        if (bufferWhilePaused)
        {
            Assert.Equal(0, paused);
        }

        Assert.Equal(accepted, processed + final.Termination!.InputsUnprocessed);
        Assert.Equal(accepted, final.InputsAccepted);

        // Status events were published in the order of the changes they report: one chain.
        var all = await events.ReadToEndAsync().DefaultTimeout();
        Assert.DoesNotContain(all, e => e.Kind == FiberEventKind.Gap);
        var previous = ManagedFiberStatus.Running;
        foreach (var e in all.Where(e => e.Kind is FiberEventKind.StatusChanged or FiberEventKind.Terminated))
        {
            Assert.Equal(previous, e.PreviousStatus);
            previous = e.Status;
        }

        Assert.Equal(ManagedFiberStatus.Interrupted, previous);
        AssertConsistent(manager);
        await AssertShutDownAsync(manager, () => Volatile.Read(ref running));
    }

    [Theory]
    [InlineData(IdConflictPolicy.Fail)]
    [InlineData(IdConflictPolicy.UseExisting)]
    public async Task Stress_TwoStartsWithOneId_ExactlyOneCreates(IdConflictPolicy conflict)
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1_000);
        var running = 0;
        using var barrier = new Barrier(2);
        for (var round = 0; round < 150; round++)
        {
            var id = $"f{round}";
            var attempts = Enumerable.Range(0, 2).Select(n => Task.Run(async () =>
            {
                var workflow = new ProbeWorkflow(async ctx =>
                {
                    Interlocked.Increment(ref running);
                    try
                    {
                        await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                    }
                });
                Assert.True(barrier.SignalAndWait(TestTimeouts.Default));
                try
                {
                    return (Result: await manager.StartAsync(id, $"w{n}", workflow, new StartOptions { Conflict = conflict }), Error: (FiberErrorCode?)null);
                }
                catch (FiberSupervisorException e)
                {
                    return (Result: (StartResult?)null, Error: (FiberErrorCode?)e.Code);
                }
            })).ToArray();
            var outcomes = await Task.WhenAll(attempts).DefaultTimeout();

            Assert.Single(outcomes, o => o.Result is { Created: true });
            if (conflict == IdConflictPolicy.Fail)
            {
                Assert.Single(outcomes, o => o.Error == FiberErrorCode.AlreadyExists);
            }
            else
            {
                Assert.All(outcomes, o => Assert.Null(o.Error));
                Assert.Equal(outcomes[0].Result!.Fiber.Workflow, outcomes[1].Result!.Fiber.Workflow);
            }
        }

        Assert.Equal(150, manager.GetStatistics().LiveFibers);
        AssertConsistent(manager);
        await AssertShutDownAsync(manager, () => Volatile.Read(ref running));
    }

    [Fact]
    public async Task Stress_ResizeWhileStartsWait_AllRunOrEndAndPermitsStayExact()
    {
        var random = new Random(4004);
        var manager = NewManager(o => o.MaxConcurrentFibers = 2);
        var running = 0;
        var maxRunning = 0;
        var ids = Enumerable.Range(0, 60).Select(i => $"f{i:D2}").ToArray();
        var seeds = Enumerable.Range(0, 3).Select(_ => random.Next()).ToArray();
        var go = NewGate();
        var starts = new ConcurrentBag<Task<StartResult>>();
        var starters = RunTogether(go, 3, s =>
        {
            for (var i = s; i < ids.Length; i += 3)
            {
                var workflow = new ProbeWorkflow(async ctx =>
                {
                    var now = Interlocked.Increment(ref running);
                    for (var seen = Volatile.Read(ref maxRunning); now > seen; seen = Volatile.Read(ref maxRunning))
                    {
                        Interlocked.CompareExchange(ref maxRunning, now, seen);
                    }

                    try
                    {
                        await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                    }
                });
                var admission = i % 2 == 0 ? AdmissionMode.Queue : AdmissionMode.Wait;
                starts.Add(manager.StartAsync(ids[i], "probe", workflow, new StartOptions { Admission = admission }));
            }

            return Task.CompletedTask;
        });
        var resizer = RunTogether(go, 1, async _ =>
        {
            var r = new Random(seeds[0]);
            for (var i = 0; i < 40; i++)
            {
                manager.SetConcurrencyLimit(1 + r.Next(6));
                await Task.Yield();
            }
        });
        var interrupter = RunTogether(go, 1, async _ =>
        {
            var r = new Random(seeds[1]);
            for (var i = 0; i < 25; i++)
            {
                try
                {
                    await manager.InterruptAsync(ids[r.Next(ids.Length)]);
                }
                catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.NotFound)
                {
                    // not registered yet
                }
            }
        });
        go.SetResult();
        await Task.WhenAll(starters.Concat(resizer).Concat(interrupter)).DefaultTimeout();
        var maxRunningWhileResizing = Volatile.Read(ref maxRunning);

        manager.SetConcurrencyLimit(100);
        var results = await Task.WhenAll(starts).DefaultTimeout();
        await TestTimeouts.UntilAsync(
            () => manager.GetStatistics() is { PendingFibers: 0, PermitWaiters: 0 } s && s.PermitsInUse == Volatile.Read(ref running),
            "every fiber left has started");

        Assert.Equal(60, results.Length);
        Assert.All(results, r => Assert.True(r.Created));
        Assert.InRange(maxRunningWhileResizing, 0, 6);
        foreach (var id in ids)
        {
            var status = manager.GetStatus(id).Status;
            Assert.True(status is ManagedFiberStatus.Running or ManagedFiberStatus.Interrupted, $"{id} is {status}");
        }

        AssertConsistent(manager);
        Assert.Equal(ids.Count(id => manager.GetStatus(id).Status == ManagedFiberStatus.Running), manager.GetStatistics().PermitsInUse);
        await AssertShutDownAsync(manager, () => Volatile.Read(ref running));
    }

    [Fact]
    public async Task Stress_InterruptPendingWhileItsPermitArrives_CountersStayExact()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        for (var round = 0; round < 200; round++)
        {
            var holder = new ProbeWorkflow();
            var pending = new ProbeWorkflow();
            await manager.StartAsync($"holder{round}", "probe", holder).DefaultTimeout();
            await manager.StartAsync($"pending{round}", "probe", pending, new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
            using var barrier = new Barrier(2);

            // Freeing the holder's permit hands it to the pending fiber while we interrupt that one.
            var freeing = Task.Run(async () =>
            {
                Assert.True(barrier.SignalAndWait(TestTimeouts.Default));
                await manager.InterruptAsync($"holder{round}");
            });
            var interrupting = Task.Run(async () =>
            {
                Assert.True(barrier.SignalAndWait(TestTimeouts.Default));
                return await manager.InterruptAsync($"pending{round}");
            });
            await freeing.DefaultTimeout();
            var final = await interrupting.DefaultTimeout();

            Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
            Assert.Single(pending.Terminations);
            var statistics = manager.GetStatistics();
            Assert.Equal(0, statistics.PendingFibers);
            Assert.Equal(0, statistics.LiveFibers);
            manager.AssertSettled(0);
        }

        await AssertShutDownAsync(manager, () => 0);
    }

    [Fact]
    public async Task Stress_SubscribeVsTerminate_EverySubscriptionEndsWithOneTerminatedEvent()
    {
        var random = new Random(5005);
        var manager = NewManager(o =>
        {
            o.SubscriberBufferCapacity = 4;
            o.ReplayCapacity = 8;
        });
        for (var round = 0; round < 30; round++)
        {
            var id = $"f{round}";
            await manager.StartAsync(id, "echo", TestWorkflows.Echo()).DefaultTimeout();
            var seeds = Enumerable.Range(0, 8).Select(_ => random.Next()).ToArray();
            var go = NewGate();
            var subscribers = RunTogether(go, 6, async s =>
            {
                var r = new Random(seeds[s]);
                for (var i = r.Next(20); i > 0; i--)
                {
                    await Task.Yield();
                }

                using var subscription = manager.Subscribe(id);
                var events = await subscription.ReadToEndAsync();

                // One terminated event, last; sequences (gaps included) contiguous.
                Assert.Single(events, e => e.Kind == FiberEventKind.Terminated);
                Assert.Equal(FiberEventKind.Terminated, events[^1].Kind);
                for (var k = 1; k < events.Count; k++)
                {
                    var first = events[k].Kind == FiberEventKind.Gap ? events[k].GapFrom : events[k].Sequence;
                    Assert.Equal(events[k - 1].Sequence + 1, first);
                }
            });
            var submitter = RunTogether(go, 1, async _ =>
            {
                for (var i = 0; i < 50; i++)
                {
                    try
                    {
                        await manager.SubmitAsync(id, i);
                    }
                    catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.Ended)
                    {
                        return;
                    }
                }
            });
            var interrupter = RunTogether(go, 1, async _ =>
            {
                var r = new Random(seeds[7]);
                for (var i = r.Next(30); i > 0; i--)
                {
                    await Task.Yield();
                }

                await manager.InterruptAsync(id);
            });
            go.SetResult();
            await Task.WhenAll(subscribers.Concat(submitter).Concat(interrupter)).DefaultTimeout();
            Assert.Equal(0, manager.GetStatus(id).Subscribers);
        }

        AssertConsistent(manager);
        await AssertShutDownAsync(manager, () => 0);
    }

    [Fact]
    public async Task Stress_ReplaceVsCleanup_AtMostOneLiveFiberPerIdAndEveryReplacedOneEnds()
    {
        var manager = NewManager();
        var alive = 0;
        var maxAlive = 0;
        var probes = new ConcurrentQueue<ProbeWorkflow>();
        var go = NewGate();
        var checking = true;
        var replacers = RunTogether(go, 3, async r =>
        {
            for (var i = 0; i < 30; i++)
            {
                var probe = new ProbeWorkflow(async ctx =>
                {
                    var now = Interlocked.Increment(ref alive);
                    for (var seen = Volatile.Read(ref maxAlive); now > seen; seen = Volatile.Read(ref maxAlive))
                    {
                        Interlocked.CompareExchange(ref maxAlive, now, seen);
                    }

                    try
                    {
                        await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref alive);
                    }
                });
                probes.Enqueue(probe);
                var result = await manager.StartAsync("r", "probe", probe, new StartOptions { Conflict = IdConflictPolicy.Replace });
                Assert.True(result.Created);
            }
        });
        // The checker is running before the replacers start (on a loaded machine the 90 replacements
        // can otherwise all finish before its first check).
        var checkerRunning = NewGate();
        var checker = Task.Run(async () =>
        {
            var checks = 0;
            while (Volatile.Read(ref checking))
            {
                var live = manager.List().Fibers.Count(f => !f.Status.IsTerminal());
                Assert.InRange(live, 0, 1);
                Assert.InRange(manager.GetStatistics().LiveFibers, 0, 1);
                checks++;
                checkerRunning.TrySetResult();
                await Task.Yield();
            }

            return checks;
        });
        await (await Task.WhenAny(checkerRunning.Task, checker).DefaultTimeout()); // a failed first check surfaces here
        go.SetResult();
        await Task.WhenAll(replacers).DefaultTimeout();
        Volatile.Write(ref checking, false);
        Assert.True(await checker.DefaultTimeout() > 0);

        var all = probes.ToArray();
        await all.Single(p => p.Terminations.Length == 0).Started.Task.DefaultTimeout();

        // Started is set just before the probe's body counts itself alive (on the workflow's
        // thread): wait for the count, or the check below can run in between.
        await TestTimeouts.UntilAsync(() => Volatile.Read(ref alive) == 1, "the live fiber's body runs");
        Assert.Equal(1, Volatile.Read(ref maxAlive));
        Assert.Equal(90, all.Length);
        var replaced = all.Where(p => p.Terminations.Length > 0).ToList();
        Assert.Equal(89, replaced.Count);
        Assert.All(replaced, p =>
        {
            var termination = Assert.Single(p.Terminations);
            Assert.Equal(ManagedFiberStatus.Interrupted, termination.Status);
            Assert.Equal("replace", termination.Reason);
        });
        Assert.False(manager.GetStatus("r").Status.IsTerminal());
        Assert.Equal(1, manager.GetStatistics().RetainedFibers);
        AssertConsistent(manager);
        Assert.Equal(1, manager.GetStatistics().PermitsInUse);

        await AssertShutDownAsync(manager, () => Volatile.Read(ref alive));
        Assert.Equal("shutdown", Assert.Single(all.Single(p => !replaced.Contains(p)).Terminations).Reason);
    }
    [Fact]
    public async Task Stress_ReplaceVsSubmit_OneWorkflowAtATimeAndEveryAcceptedInputAccountedFor()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 2);
        var alive = 0;
        var maxAlive = 0;
        var handedOut = 0;
        var probes = new ConcurrentQueue<ProbeWorkflow>();
        ProbeWorkflow NewProbe()
        {
            var probe = new ProbeWorkflow(async ctx =>
            {
                var now = Interlocked.Increment(ref alive);
                for (var seen = Volatile.Read(ref maxAlive); now > seen; seen = Volatile.Read(ref maxAlive))
                {
                    Interlocked.CompareExchange(ref maxAlive, now, seen);
                }

                try
                {
                    await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
                    {
                        Interlocked.Increment(ref handedOut);
                        ctx.Publish(item);
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref alive);
                }
            });
            probes.Enqueue(probe);
            return probe;
        }

        await manager.StartAsync("r", "probe", NewProbe()).DefaultTimeout();
        var accepted = 0;
        var go = NewGate();
        var replacers = RunTogether(go, 2, async r =>
        {
            for (var i = 0; i < 25; i++)
            {
                var result = await manager.StartAsync("r", "probe", NewProbe(), new StartOptions { Conflict = IdConflictPolicy.Replace, InputCapacity = 4 });
                Assert.True(result.Created);
            }
        });
        var submitters = RunTogether(go, 2, async s =>
        {
            for (var i = 0; i < 300; i++)
            {
                try
                {
                    await manager.SubmitAsync("r", i, FullQueueMode.Reject);
                    Interlocked.Increment(ref accepted);
                }
                catch (FiberSupervisorException e) when (e.Code is FiberErrorCode.Ended or FiberErrorCode.InputQueueFull)
                {
                    await Task.Yield();
                }
            }
        });
        go.SetResult();
        await Task.WhenAll([.. replacers, .. submitters]).DefaultTimeout();
        AssertConsistent(manager);

        await AssertShutDownAsync(manager, () => Volatile.Read(ref alive));
        Assert.Equal(1, Volatile.Read(ref maxAlive));
        var all = probes.ToArray();
        Assert.Equal(51, all.Length);
        Assert.All(all, p => Assert.Single(p.Terminations));
        var unprocessed = all.Sum(p => p.Terminations[0].InputsUnprocessed);
        Assert.True(accepted > 0);
        Assert.Equal(accepted, Volatile.Read(ref handedOut) + unprocessed);
    }
}
