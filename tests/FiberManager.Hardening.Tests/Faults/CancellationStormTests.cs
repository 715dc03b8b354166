using FiberManager.Client;
using FiberManager.Protocol;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// Clients giving up en masse: hundreds of Submits waiting on a full queue, Subscribe streams and
/// Starts waiting for admission, cancelled at once by deadlines and by their tokens. Afterwards
/// queue depths and permits are exact, no waiter is left behind, and later calls work.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class CancellationStormTests : IAsyncLifetime
{
    private FaultHost _host = null!;

    private FiberManagerClient Client => _host.Client;

    public async Task InitializeAsync() => _host = await FaultHost.StartAsync(new Dictionary<string, string?> { ["FiberManager:MaxConcurrentFibers"] = "2" });

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static async Task AssertFailsAsync(Task call, params StatusCode[] codes)
    {
        try
        {
            await call.DefaultTimeout();
        }
        catch (RpcException e) when (codes.Contains(e.StatusCode))
        {
            return;
        }
        catch (OperationCanceledException) when (codes.Contains(StatusCode.Cancelled))
        {
            return;
        }

        Assert.Fail($"the call did not fail with {string.Join(" or ", codes)}");
    }

    [Fact]
    public async Task SubmitsWaitingOnAFullQueue_CancelledEnMasse_NoWaiterLeaks()
    {
        const string id = "submit-storm";
        const int waiting = 150;
        await Client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = FaultWorkflows.Gate, InputCapacity = 4 }).DefaultTimeout();
        for (var i = 0; i < 4; i++)
        {
            await Client.SubmitAsync(id, Value.ForString($"queued-{i}")).DefaultTimeout();
        }

        V1.SubmitRequest Waiting(string text) => new() { FiberId = id, Input = FaultHost.Json(text), QueueFullPolicy = V1.QueueFullPolicy.Wait };
        using var cancel = new CancellationTokenSource();
        var byDeadline = Enumerable.Range(0, waiting).Select(i => Client.SubmitAsync(Waiting($"deadline-{i}"), new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(500)))).ToList();
        var byToken = Enumerable.Range(0, waiting).Select(i => Client.SubmitAsync(Waiting($"token-{i}"), cancellationToken: cancel.Token)).ToList();

        foreach (var call in byDeadline)
        {
            await AssertFailsAsync(call, StatusCode.DeadlineExceeded);
        }

        cancel.Cancel();
        foreach (var call in byToken)
        {
            await AssertFailsAsync(call, StatusCode.Cancelled);
        }

        var info = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(4u, info.QueueDepth);
        Assert.Equal(4ul, info.InputsAccepted);

        // Let the workflow read: a waiter left behind would slip its item in as soon as there is room,
        // ahead of the next Submit's.
        await using var outputs = Client.SubscribeAsync(id).GetAsyncEnumerator();
        _host.Signals.Set(id, "drain");
        await Client.SubmitAsync(id, Value.ForString("after")).DefaultTimeout();
        var seen = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await outputs.MoveNextAsync().AsTask().DefaultTimeout());
            seen.Add(outputs.Current.Output.Json.StringValue);
        }

        Assert.Equal(new[] { "queued-0", "queued-1", "queued-2", "queued-3", "after" }, seen);
        var after = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(0u, after.QueueDepth);
        Assert.Equal(5ul, after.InputsAccepted);
        await _host.AssertInvariantsAsync(null, expectLive: 1);
        await Client.InterruptAsync(id).DefaultTimeout();
        while (await outputs.MoveNextAsync().AsTask().DefaultTimeout())
        {
        }

        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 5 });
    }

    [Fact]
    public async Task SubmitsWaitingOnAFullQueue_FiberInterrupted_AllRefused_NoneLost()
    {
        const string id = "submit-interrupted";
        await Client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = FaultWorkflows.Gate, InputCapacity = 4 }).DefaultTimeout();
        for (var i = 0; i < 4; i++)
        {
            await Client.SubmitAsync(id, Value.ForString($"queued-{i}")).DefaultTimeout();
        }

        var waiting = Enumerable.Range(0, 100)
            .Select(i => Client.SubmitAsync(new V1.SubmitRequest { FiberId = id, Input = FaultHost.Json($"waiting-{i}"), QueueFullPolicy = V1.QueueFullPolicy.Wait }))
            .ToList();
        var final = await Client.InterruptAsync(id).DefaultTimeout();

        // Whether it was parked when the fiber ended or arrived after: refused, never accepted and dropped.
        foreach (var call in waiting)
        {
            await AssertFailsAsync(call, StatusCode.FailedPrecondition);
        }

        Assert.Equal(4ul, final.Exit.InputsUnprocessed);
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 4 });
    }

    [Fact]
    public async Task SubscribeStreams_CancelledEnMasse_SubscriberCountReturnsToZero()
    {
        const string id = "subscribe-storm";
        const int streams = 100;
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("first")).DefaultTimeout();

        using var cancel = new CancellationTokenSource();
        var byToken = Enumerable.Range(0, streams).Select(_ => Client.SubscribeAsync(id, cancellationToken: cancel.Token).GetAsyncEnumerator(cancel.Token)).ToList();
        var byDeadline = Enumerable.Range(0, streams)
            .Select(_ => Client.SubscribeAsync(new V1.SubscribeRequest { FiberId = id }, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromSeconds(5))).GetAsyncEnumerator())
            .ToList();
        var all = byToken.Concat(byDeadline).ToList();
        await Task.WhenAll(all.Select(async e => Assert.True(await e.MoveNextAsync()))).DefaultTimeout();
        Assert.Equal((uint)(2 * streams), (await Client.GetStatusAsync(id).DefaultTimeout()).Subscribers);

        cancel.Cancel();
        await Task.WhenAll(byToken.Select(e => Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await e.MoveNextAsync()))).DefaultTimeout();
        await Task.WhenAll(byDeadline.Select(e => AssertFailsAsync(e.MoveNextAsync().AsTask(), StatusCode.DeadlineExceeded))).DefaultTimeout();
        foreach (var e in all)
        {
            await e.DisposeAsync();
        }

        await _host.WaitForStatusAsync(id, f => f.Subscribers == 0, "every subscription removed");
        await Client.SubmitAsync(id, Value.ForString("second")).DefaultTimeout();
        await _host.AssertInvariantsAsync(null, expectLive: 1);
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 2 });
    }

    [Fact]
    public async Task QueuedFibers_InterruptedEnMasseWhilePermitsFree_PermitsExact()
    {
        await Client.StartAsync("hold-0", FaultWorkflows.Gate).DefaultTimeout();
        await Client.StartAsync("hold-1", FaultWorkflows.Gate).DefaultTimeout();
        var queued = Enumerable.Range(0, 100).Select(i => $"queued-{i}").ToList();
        foreach (var id in queued)
        {
            var started = await Client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = "echo", Admission = V1.AdmissionPolicy.Queue }).DefaultTimeout();
            Assert.Equal(V1.FiberStatus.Pending, started.Fiber.Status);
        }

        Assert.Equal(100, _host.Manager.GetStatistics().PendingFibers);

        // The holders end while the queued fibers are interrupted: permits are granted to fibers
        // being interrupted at that very moment.
        var interrupts = queued.Select(id => Client.InterruptAsync(id))
            .Concat([Client.InterruptAsync("hold-0"), Client.InterruptAsync("hold-1")])
            .ToList();
        var finals = await Task.WhenAll(interrupts).DefaultTimeout();

        Assert.All(finals, f => Assert.Equal(V1.FiberStatus.Interrupted, f.Status));
        await _host.AssertInvariantsAsync(null, expectLive: 0);

        // Both permits are free: two Starts that refuse to wait get them.
        await Client.StartAsync(new V1.StartRequest { FiberId = "after-0", Workflow = "echo", Admission = V1.AdmissionPolicy.Reject }).DefaultTimeout();
        await Client.StartAsync(new V1.StartRequest { FiberId = "after-1", Workflow = "echo", Admission = V1.AdmissionPolicy.Reject }).DefaultTimeout();
        await _host.EndAllAndAssertInvariantsAsync();
    }

    [Fact]
    public async Task StartsWaitingForAdmission_CancelledEnMasse_PermitsExact_NoWaiterLeaks()
    {
        await Client.StartAsync("hold-0", FaultWorkflows.Gate).DefaultTimeout();
        await Client.StartAsync("hold-1", FaultWorkflows.Gate).DefaultTimeout();

        V1.StartRequest Waiting(string id, TimeSpan? permitTimeout = null) => new()
        {
            FiberId = id,
            Workflow = "echo",
            Admission = V1.AdmissionPolicy.Wait,
            PermitTimeout = permitTimeout is { } t ? Duration.FromTimeSpan(t) : null,
        };

        using var cancel = new CancellationTokenSource();
        var byDeadline = Enumerable.Range(0, 40).Select(i => Client.StartAsync(Waiting($"deadline-{i}"), new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(500)))).ToList();
        var byPermitTimeout = Enumerable.Range(0, 30).Select(i => Client.StartAsync(Waiting($"permit-timeout-{i}", TimeSpan.FromMilliseconds(300)))).ToList();
        var byToken = Enumerable.Range(0, 30).Select(i => Client.StartAsync(Waiting($"token-{i}"), cancellationToken: cancel.Token)).ToList();

        foreach (var call in byDeadline)
        {
            await AssertFailsAsync(call, StatusCode.DeadlineExceeded);
        }

        foreach (var call in byPermitTimeout)
        {
            await AssertFailsAsync(call, StatusCode.ResourceExhausted);
        }

        cancel.Cancel();
        foreach (var call in byToken)
        {
            await AssertFailsAsync(call, StatusCode.Cancelled);
        }

        // A client's cancellation reaches the server asynchronously: wait until no Start waits any more.
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (_host.Manager.GetStatistics() is { PermitWaiters: > 0 } or { PendingFibers: > 0 })
        {
            Assert.True(DateTime.UtcNow < deadline, $"waiters left: {_host.Manager.GetStatistics()}");
            await Task.Delay(10);
        }

        await _host.AssertInvariantsAsync(null, expectLive: 2);

        // The permit freed next goes to the next Start, not to a waiter left behind.
        await Client.InterruptAsync("hold-0").DefaultTimeout();
        var later = await Client.StartAsync(new V1.StartRequest { FiberId = "later", Workflow = "echo", Admission = V1.AdmissionPolicy.Reject }).DefaultTimeout();
        Assert.NotEqual(V1.FiberStatus.Pending, later.Fiber.Status);
        await _host.AssertInvariantsAsync(null, expectLive: 2);
        await _host.EndAllAndAssertInvariantsAsync();
    }
}
