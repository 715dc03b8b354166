using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>A service with one concurrency permit (its tests run one after the other).</summary>
public sealed class SinglePermitServiceFixture : IAsyncLifetime
{
    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(
        new Dictionary<string, string?>
        {
            ["FiberManager:MaxConcurrentFibers"] = "1",
            ["FiberManager:InterruptGracePeriod"] = "00:00:02",
        },
        TestWorkflows.Register);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class ConcurrencyLimitTests(SinglePermitServiceFixture fixture) : IClassFixture<SinglePermitServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    /// <summary>Takes the only permit; the returned id is interrupted by the test when it is done.</summary>
    /// <summary>Starts a fiber that takes the only permit; disposing it interrupts that fiber (again, harmlessly, if the test already did).</summary>
    private async Task<PermitHolder> HoldThePermitAsync()
    {
        var holder = Ids.New("holder");
        var started = await Client.StartAsync(holder, "echo").DefaultTimeout();
        Assert.NotEqual(FiberStatus.Pending, started.Fiber.Status);
        return new PermitHolder(Client, holder);
    }

    private sealed class PermitHolder(FiberManagerClient client, string id) : IAsyncDisposable
    {
        public string Id => id;

        public async ValueTask DisposeAsync() => await client.InterruptAsync(id).DefaultTimeout();
    }

    /// <summary>
    /// After a Start that gave up waiting, the fiber must not stay PENDING: the server ended it
    /// (INTERRUPTED), or - when the client's deadline passed before the request got that far -
    /// never registered it (NOT_FOUND).
    /// </summary>
    private async Task AssertNotLeftPendingAsync(string id)
    {
        var status = await Eventually.UntilAsync(
            async () =>
            {
                try
                {
                    return (await Client.GetStatusAsync(id).DefaultTimeout()).Status;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    return FiberStatus.Unspecified;
                }
            },
            s => s != FiberStatus.Pending);
        Assert.Contains(status, new[] { FiberStatus.Interrupted, FiberStatus.Unspecified });
    }

    [Fact]
    public async Task Start_NoPermitWithReject_ResourceExhaustedConcurrencyLimitReached()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("rejected");
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Reject }),
            StatusCode.ResourceExhausted,
            ErrorReasons.ConcurrencyLimitReached);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
    }

    [Fact]
    public async Task Start_NoPermitWithWaitAndShortPermitTimeout_ResourceExhaustedConcurrencyLimitReached()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("wait-timeout");
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(new StartRequest
            {
                FiberId = id,
                Workflow = "echo",
                Admission = AdmissionPolicy.Wait,
                PermitTimeout = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)),
            }),
            StatusCode.ResourceExhausted,
            ErrorReasons.ConcurrencyLimitReached);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);

        // The fiber that gave up is not live: its id is free for a new Start once a permit frees.
        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, status.Status);
    }

    [Fact]
    public async Task Start_NoPermitWithWaitAndCallDeadline_DeadlineExceededOnTheServer()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("wait-deadline");
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StartAsync(
            new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Wait },
            new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(300)))).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await AssertNotLeftPendingAsync(id);
    }

    /// <summary>grpc-dotnet answers the expired deadline itself: DEADLINE_EXCEEDED without an ErrorInfo (the hand-made layer added reason DEADLINE_EXCEEDED).</summary>
    [Fact]
    public async Task Start_NoPermitWithWaitAndGrpcTimeoutHeaderOnly_ServerEndsTheCallWithDeadlineExceeded()
    {
        await using var holder = await HoldThePermitAsync();
        // A raw call with no client-side timer: only the server's reading of grpc-timeout ends it.
        var id = Ids.New("wait-header");
        using var raw = new RawGrpcClient(fixture.Host.Address);
        var response = await raw.CallAsync(
            "/fibermanager.v1.FiberManager/Start",
            new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Wait },
            r => r.Headers.TryAddWithoutValidation("grpc-timeout", "300m"));

        Assert.True(response.TrailersOnly);
        Assert.Equal(global::Grpc.Core.StatusCode.DeadlineExceeded, response.Status);
        Assert.Null(response.ErrorInfo);
        await AssertNotLeftPendingAsync(id);
    }

    [Fact]
    public async Task Start_NoPermitWithPermitTimeoutBeyondTimerRange_BoundedByTheDeadline()
    {
        await using var holder = await HoldThePermitAsync();
        // 100 days is a valid Duration but more than a .NET timer can wait (about 49.7 days):
        // it means "as long as the deadline allows", not a malformed request.
        var id = Ids.New("wait-long");
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.StartAsync(
            new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Wait, PermitTimeout = Duration.FromTimeSpan(TimeSpan.FromDays(100)) },
            new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(300)))).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await AssertNotLeftPendingAsync(id);
    }

    [Fact]
    public async Task Start_NoPermitWithWait_StartsWhenThePermitFrees()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("wait-ok");
        var waiting = Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Wait });
        await Eventually.UntilAsync(() => Client.ListFibersAsync(new ListFibersRequest { Statuses = { FiberStatus.Pending } }), p => p.Fibers.Any(f => f.FiberId == id));
        Assert.False(waiting.IsCompleted);

        await Client.InterruptAsync(holder.Id).DefaultTimeout();

        var started = await waiting.DefaultTimeout();
        Assert.True(started.Created);
        Assert.NotEqual(FiberStatus.Pending, started.Fiber.Status);
        Assert.NotNull(started.Fiber.StartTime);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_NoPermitWithQueue_PendingThenRunsWhenThePermitFrees()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("queued");
        try
        {
            var queued = await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Queue, BufferWhilePaused = true }).DefaultTimeout();
            Assert.True(queued.Created);
            Assert.Equal(FiberStatus.Pending, queued.Fiber.Status);
            Assert.Null(queued.Fiber.StartTime);

            // Inputs are accepted while pending and processed once it runs.
            Assert.Equal(1UL, (await Client.SubmitAsync(id, Value.ForString("early")).DefaultTimeout()).Sequence);

            await using var events = new EventReader(Client, id);
            await Client.InterruptAsync(holder.Id).DefaultTimeout();

            var running = await events.NextAsync();
            Assert.Equal(FiberStatus.Pending, running.StatusChanged.Previous);
            Assert.Equal(FiberStatus.Running, running.StatusChanged.Current);
            Assert.Equal("early", (await events.NextOutputAsync()).Output.Json.StringValue);
            var status = await Client.GetStatusAsync(id).DefaultTimeout();
            Assert.NotNull(status.StartTime);
        }
        finally
        {
            await Client.InterruptAsync(holder.Id).DefaultTimeout();
            await Client.InterruptAsync(id).DefaultTimeout();
        }
    }

    [Fact]
    public async Task Interrupt_PendingFiber_InterruptedWithoutRunning()
    {
        await using var holder = await HoldThePermitAsync();
        var id = Ids.New("pending-interrupt");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Queue }).DefaultTimeout();
        var final = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, final.Status);
        Assert.Null(final.StartTime);
    }
}
