using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

public sealed class SmokeTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManager.Client.FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Echo_StartSubmitSubscribeInterrupt_EndToEnd()
    {
        var started = await Client.StartAsync("smoke-echo", "echo").DefaultTimeout();
        Assert.True(started.Created);
        Assert.Equal(FiberStatus.Running, started.Fiber.Status == FiberStatus.Idle ? FiberStatus.Running : started.Fiber.Status);

        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        var events = Client.SubscribeAsync("smoke-echo", cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);
        var submitted = await Client.SubmitAsync("smoke-echo", Value.ForString("hello")).DefaultTimeout();
        Assert.Equal(1UL, submitted.Sequence);

        Assert.True(await events.MoveNextAsync());
        Assert.Equal("hello", events.Current.Output.Json.StringValue);

        var final = await Client.InterruptAsync("smoke-echo").DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, final.Status);
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(FiberEvent.EventOneofCase.Terminated, events.Current.EventCase);
        Assert.False(await events.MoveNextAsync());
        await events.DisposeAsync();
    }

    [Fact]
    public async Task GetStatus_UnknownFiber_NotFoundWithReason()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GetStatusAsync("no-such-fiber")).DefaultTimeout();
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(ErrorReasons.FiberNotFound, error.GetReason());
    }
}
