using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Service.Tests;

/// <summary>Client-side deadlines (the server side is in WireTests, SubmitTests and ConcurrencyLimitTests).</summary>
public sealed class DeadlineTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    public static TheoryData<long> PassedDeadlines => new() { 0, -TimeSpan.TicksPerSecond };

    [Theory]
    [MemberData(nameof(PassedDeadlines))]
    public async Task UnaryCall_DeadlineAlreadyPassed_DeadlineExceeded(long ticks)
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(
            () => Client.ListWorkflowsAsync(new GrpcCallOptions { Timeout = TimeSpan.FromTicks(ticks) })).DefaultTimeout();
        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        Assert.NotEmpty(await Client.ListWorkflowsAsync().DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(PassedDeadlines))]
    public async Task Subscribe_DeadlineAlreadyPassed_DeadlineExceeded(long ticks)
    {
        var id = Ids.New("deadline-passed");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        var error = await Assert.ThrowsAsync<GrpcStatusException>(async () =>
        {
            await foreach (var e in Client.SubscribeAsync(new SubscribeRequest { FiberId = id }, new GrpcCallOptions { Timeout = TimeSpan.FromTicks(ticks) }))
            {
                Assert.Fail($"Unexpected event {e}");
            }
        }).DefaultTimeout();
        Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.StatusCode);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task UnaryCall_InfiniteTimeout_NoDeadline()
    {
        var id = Ids.New("no-deadline");
        var options = new GrpcCallOptions { Timeout = Timeout.InfiniteTimeSpan };
        Assert.True((await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo" }, options).DefaultTimeout()).Created);
        Assert.Equal(FiberStatus.Interrupted, (await Client.InterruptAsync(id, options: options).DefaultTimeout()).Status);
    }

    [Fact]
    public async Task Submit_WaitingForRoomWhenTheFiberEnds_FailedPreconditionFiberEnded()
    {
        var id = Ids.New("wait-then-end");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
        var waiting = Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)) }, new GrpcCallOptions { Timeout = Timeout.InfiniteTimeSpan });

        var final = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(1UL, final.Exit.InputsUnprocessed);
        var error = await RpcAssert.FailsAsync(() => waiting, GrpcStatusCode.FailedPrecondition, ErrorReasons.FiberEnded);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
    }
}
