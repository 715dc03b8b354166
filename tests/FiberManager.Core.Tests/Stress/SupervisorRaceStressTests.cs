using FiberManager.Core.Management;
using FiberManager.Core.Tests.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Stress;

/// <summary>
/// The managed fiber's phase machine under races, hammered through a supervisor from several
/// threads released together: shutdown while Starts wait for permits, an interrupt racing a
/// restart's backoff and next attempt, an interrupt racing the permit its pending fiber is being
/// granted. Each round ends by checking the supervisor's invariants; the DEBUG build checks every
/// fiber's, the input's, the registry's and the permit pool's at every lock as well.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class SupervisorRaceStressTests : ManagerTestBase
{
    [Fact]
    public async Task Stress_ShutdownWhileStartsWaitForPermits_EachStartCreatesItsFiberOrFailsShuttingDown_NothingLeaks()
    {
        var random = new Random(7001);
        for (var round = 0; round < 25; round++)
        {
            var manager = NewManager(o => o.MaxConcurrentFibers = 2);
            var ran = 0;
            var workflow = Workflow.Create<int, int>(async ctx =>
            {
                Interlocked.Increment(ref ran);
                await Task.Delay(Timeout.Infinite, ctx.CancellationToken);
            });
            await manager.StartAsync("holder-0", "w", workflow).DefaultTimeout();
            await manager.StartAsync("holder-1", "w", workflow).DefaultTimeout();
            var go = Gate.Create();
            var starts = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
            {
                await go.Task;
                return await manager.StartAsync($"w{i}", "w", workflow, new StartOptions { Admission = i % 3 == 0 ? AdmissionMode.Queue : AdmissionMode.Wait });
            })).ToArray();
            var freeing = Task.Run(async () =>
            {
                await go.Task;
                await manager.InterruptAsync($"holder-{random.Next(2)}");
            });
            var shutdown = Task.Run(async () =>
            {
                await go.Task;
                for (var spin = random.Next(50); spin > 0; spin--)
                {
                    await Task.Yield();
                }

                await manager.DisposeAsync();
            });

            go.SetResult();
            await Task.WhenAll(freeing, shutdown).DefaultTimeout();
            for (var i = 0; i < starts.Length; i++)
            {
                try
                {
                    var result = await starts[i].DefaultTimeout();
                    Assert.True(result.Created);

                    // Its fiber exists, and shutdown ended it.
                    Assert.True(manager.GetStatus($"w{i}").Status.IsTerminal());
                }
                catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.ShuttingDown)
                {
                    // A Start that failed left no trace (it registered nothing, or its fiber was forgotten).
                    ManagerTesting.ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus($"w{i}"));
                }
            }

            manager.CheckInvariants();
            var statistics = manager.GetStatistics();
            Assert.Equal(0, statistics.LiveFibers);
            Assert.Equal(0, statistics.PermitsInUse);
            Assert.Equal(0, statistics.PendingFibers);
            Assert.True(ran <= 2 + starts.Length);
        }
    }

    [Fact]
    public async Task Stress_InterruptRacesTheRestartBackoff_OneCleanupPerFiber_PermitsExact()
    {
        var random = new Random(7002);
        var manager = NewManager(o => o.MaxConcurrentFibers = 8);
        for (var round = 0; round < 40; round++)
        {
            var probes = new List<ProbeWorkflow>();
            var subscriptions = new List<FiberSubscription<int>>();
            for (var f = 0; f < 8; f++)
            {
                // Fails at once, again and again: the fiber cycles Running, BackingOff (no delay), Running...
                var probe = new ProbeWorkflow(_ => throw new TestException("boom"));
                probes.Add(probe);
                await manager.StartAsync($"r{round}-{f}", "boom", probe, new StartOptions { Restart = RestartPolicy.OnFailure(1_000, TimeSpan.Zero, TimeSpan.Zero) }).DefaultTimeout();
                subscriptions.Add(manager.Subscribe($"r{round}-{f}"));
            }

            var go = Gate.Create();
            var interrupts = Enumerable.Range(0, 8).Select(f => Task.Run(async () =>
            {
                await go.Task;
                for (var spin = random.Next(30); spin > 0; spin--)
                {
                    await Task.Yield();
                }

                return await manager.InterruptAsync($"r{round}-{f}");
            })).ToArray();
            go.SetResult();
            var finals = await Task.WhenAll(interrupts).DefaultTimeout();

            for (var f = 0; f < 8; f++)
            {
                // Interrupted, or Failed when an attempt threw while the interrupt was under way (never restarted then).
                Assert.Contains(finals[f].Status, new[] { ManagedFiberStatus.Interrupted, ManagedFiberStatus.Failed });
                Assert.Single(probes[f].Terminations);
                var events = await subscriptions[f].ReadToEndAsync().DefaultTimeout();
                Assert.Single(events, e => e.Kind == FiberEventKind.Terminated);
                Assert.Equal(FiberEventKind.Terminated, events[^1].Kind);
                subscriptions[f].Dispose();
            }

            manager.AssertSettled(0);
        }
    }

    [Fact]
    public async Task Stress_InterruptPendingWhileResizeGrantsItsPermit_PermitsStayExact()
    {
        var random = new Random(7003);
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("holder", "probe", new ProbeWorkflow()).DefaultTimeout();
        for (var round = 0; round < 100; round++)
        {
            var pending = Enumerable.Range(0, 4).Select(i => $"p{round}-{i}").ToArray();
            foreach (var id in pending)
            {
                await manager.StartAsync(id, "probe", new ProbeWorkflow(), new StartOptions { Admission = AdmissionMode.Queue }).DefaultTimeout();
            }

            var go = Gate.Create();
            var grow = Task.Run(async () =>
            {
                await go.Task;
                manager.SetConcurrencyLimit(1 + random.Next(1, 5));
            });
            var interrupts = pending.Select(id => Task.Run(async () =>
            {
                await go.Task;
                return await manager.InterruptAsync(id);
            })).ToArray();
            go.SetResult();
            await grow.DefaultTimeout();
            var finals = await Task.WhenAll(interrupts).DefaultTimeout();

            Assert.All(finals, f => Assert.Equal(ManagedFiberStatus.Interrupted, f.Status));
            manager.SetConcurrencyLimit(1);
            manager.AssertSettled(1);
            Assert.Equal(0, manager.GetStatistics().PendingFibers);
        }
    }
}
