using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>The ErrorInfo reason and metadata of real errors of the service, read from the RpcException.</summary>
public sealed class RpcExceptionExtensionsTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task GetReason_UnknownFiber_FiberNotFoundWithDomainAndFiberId()
    {
        var id = Ids.New("missing");
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GetStatusAsync(id)).DefaultTimeout();

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(ErrorReasons.FiberNotFound, error.GetReason());
        var info = error.GetErrorInfo();
        Assert.NotNull(info);
        Assert.Equal(ErrorReasons.Domain, info.Domain);
        Assert.Equal(id, info.Metadata[ErrorMetadataKeys.FiberId]);
        Assert.Contains(id, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetReason_SubmitRejectedOnAFullQueue_InputQueueFullWithDepthAndCapacity()
    {
        var id = Ids.New("full");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", InputCapacity = 1, StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();

        var rejected = new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)), QueueFullPolicy = QueueFullPolicy.Reject };
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.SubmitAsync(rejected)).DefaultTimeout();

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(ErrorReasons.InputQueueFull, error.GetReason());
        Assert.Equal("1", error.GetErrorInfo()!.Metadata[ErrorMetadataKeys.QueueDepth]);
        Assert.Equal("1", error.GetErrorInfo()!.Metadata[ErrorMetadataKeys.InputCapacity]);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task GetErrorInfo_ClientSideDeadline_NoneAndNoReason()
    {
        var error = await Assert.ThrowsAsync<RpcException>(
            () => Client.ListWorkflowsAsync(new CallOptions(deadline: DateTime.UtcNow.AddSeconds(-1)))).DefaultTimeout();

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Null(error.GetErrorInfo());
        Assert.Null(error.GetReason());
    }
}
