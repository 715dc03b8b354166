using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>
/// A call without a deadline waiting on the server (the server side of deadlines is in WireTests,
/// SubmitTests and ConcurrencyLimitTests; the client's own deadlines in FiberManager.Client.Tests).
/// </summary>
public sealed class DeadlineTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Submit_WaitingForRoomWhenTheFiberEnds_FailedPreconditionFiberEnded()
    {
        var id = Ids.New("wait-then-end");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
        var waiting = Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)) }, new CallOptions(deadline: DateTime.MaxValue));

        var final = await Client.InterruptAsync(id).DefaultTimeout();

        Assert.Equal(1UL, final.Exit.InputsUnprocessed);
        var error = await RpcAssert.FailsAsync(() => waiting, StatusCode.FailedPrecondition, ErrorReasons.FiberEnded);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
    }
}
