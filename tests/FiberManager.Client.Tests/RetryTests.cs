using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>
/// grpc-dotnet's retry policy on UNAVAILABLE for the calls that are safe to repeat (a Start with a
/// request id, a Submit with a submit id), and no retry for any other call. The first attempts are
/// answered UNAVAILABLE by the <see cref="CallLog"/> in front of the real service.
/// </summary>
public sealed class RetryTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Start_WithRequestId_RetriedAfterUnavailable()
    {
        var id = Ids.New("retry-start");
        var call = Ids.New("start");
        var request = new StartRequest { FiberId = id, Workflow = "echo", RequestId = Ids.New("request") };

        var started = await Client.StartAsync(request, ServiceFixture.Marked(call, failAttempts: 2)).DefaultTimeout();

        Assert.True(started.Created);
        Assert.Equal(3, fixture.Log.AttemptsOf(call).Count);
        Assert.Equal(id, (await Client.GetStatusAsync(id).DefaultTimeout()).FiberId);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_WithSubmitId_RetriedAfterUnavailable_AcceptedOnce()
    {
        var id = Ids.New("retry-submit");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        var call = Ids.New("submit");
        var request = new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForString("once")), SubmitId = Ids.New("input") };

        var submitted = await Client.SubmitAsync(request, ServiceFixture.Marked(call, failAttempts: 1)).DefaultTimeout();

        Assert.Equal(1UL, submitted.Sequence);
        Assert.False(submitted.Duplicate);
        Assert.Equal(2, fixture.Log.AttemptsOf(call).Count);
        Assert.Equal(1UL, (await Client.GetStatusAsync(id).DefaultTimeout()).InputsAccepted);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task StartAndSubmitWithoutIds_AndOtherCalls_NotRetried()
    {
        var id = Ids.New("no-retry");
        var calls = new (string Name, Func<CallOptions, Task> Call)[]
        {
            ("start", o => Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo" }, o)),
            ("submit", o => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(1)) }, o)),
            ("get-status", o => Client.GetStatusAsync(id, o)),
            ("pause", o => Client.PauseAsync(id, o)),
            ("list-workflows", o => Client.ListWorkflowsAsync(o)),
        };

        foreach (var (name, call) in calls)
        {
            var marker = Ids.New(name);
            var error = await Assert.ThrowsAsync<RpcException>(() => call(ServiceFixture.Marked(marker, failAttempts: 1))).DefaultTimeout();
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            Assert.Single(fixture.Log.AttemptsOf(marker));
        }

        await Assert.ThrowsAsync<RpcException>(() => Client.GetStatusAsync(id)).DefaultTimeout(); // nothing was started
    }

    [Fact]
    public async Task Start_WithRequestId_UnavailableBeyondMaxRetries_FailsAfterMaxRetriesPlusOneAttempts()
    {
        using var client = new FiberManagerClient(FastRetries.Options(fixture.Host.Address, maxRetries: 2));
        var call = Ids.New("start");
        var request = new StartRequest { FiberId = Ids.New("gives-up"), Workflow = "echo", RequestId = Ids.New("request") };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.StartAsync(request, ServiceFixture.Marked(call, failAttempts: 10))).DefaultTimeout();

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(3, fixture.Log.AttemptsOf(call).Count);
    }

    [Fact]
    public async Task Retry_MaxRetriesZero_NotRetried()
    {
        using var client = new FiberManagerClient(FastRetries.Options(fixture.Host.Address, maxRetries: 0));
        var call = Ids.New("start");
        var request = new StartRequest { FiberId = Ids.New("no-retries"), Workflow = "echo", RequestId = Ids.New("request") };

        var error = await Assert.ThrowsAsync<RpcException>(() => client.StartAsync(request, ServiceFixture.Marked(call, failAttempts: 1))).DefaultTimeout();

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Single(fixture.Log.AttemptsOf(call));
    }
}
