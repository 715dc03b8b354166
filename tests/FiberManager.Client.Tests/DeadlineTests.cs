using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>Client-side deadlines: a call's own, the default for unary calls, none for Subscribe.</summary>
public sealed class DeadlineTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    public static TheoryData<long> PassedDeadlines => new() { 0, -TimeSpan.TicksPerSecond };

    [Theory]
    [MemberData(nameof(PassedDeadlines))]
    public async Task UnaryCall_DeadlineAlreadyPassed_DeadlineExceeded(long ticks)
    {
        var error = await Assert.ThrowsAsync<RpcException>(
            () => Client.ListWorkflowsAsync(new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromTicks(ticks)))).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.NotEmpty(await Client.ListWorkflowsAsync().DefaultTimeout());
    }

    [Theory]
    [MemberData(nameof(PassedDeadlines))]
    public async Task Subscribe_DeadlineAlreadyPassed_DeadlineExceeded(long ticks)
    {
        var id = Ids.New("deadline-passed");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var e in Client.SubscribeAsync(new SubscribeRequest { FiberId = id }, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromTicks(ticks))))
            {
                Assert.Fail($"Unexpected event {e}");
            }
        }).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task UnaryCall_InfiniteTimeout_NoDeadline()
    {
        var id = Ids.New("no-deadline");
        var call = Ids.New("no-deadline-call");
        var options = new CallOptions(headers: ServiceFixture.MarkedHeaders(call), deadline: DateTime.MaxValue);
        Assert.True((await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo" }, options).DefaultTimeout()).Created);
        Assert.Equal(FiberStatus.Interrupted, (await Client.InterruptAsync(id, options: options).DefaultTimeout()).Status);
        Assert.All(fixture.Log.AttemptsOf(call), a => Assert.Empty(a.Values("grpc-timeout")));
    }

    [Fact]
    public async Task UnaryCallWithoutDeadline_GetsTheDefaultUnaryTimeout_SubscribeGetsNone()
    {
        var options = new FiberManagerClientOptions { Address = fixture.Host.Address, DefaultUnaryTimeout = TimeSpan.FromMinutes(7) };
        using var client = new FiberManagerClient(options);
        var id = Ids.New("default-deadline");
        var start = Ids.New("start");
        await client.StartAsync(id, "echo", options: ServiceFixture.Marked(start)).DefaultTimeout();
        var timeout = Assert.Single(Assert.Single(fixture.Log.AttemptsOf(start)).Values("grpc-timeout"));
        Assert.InRange(ParseGrpcTimeout(timeout), TimeSpan.FromMinutes(6), TimeSpan.FromMinutes(7));

        var subscribe = Ids.New("subscribe");
        await client.SubmitAsync(id, Google.Protobuf.WellKnownTypes.Value.ForNumber(1)).DefaultTimeout();
        await using (var events = client.SubscribeAsync(new SubscribeRequest { FiberId = id }, ServiceFixture.Marked(subscribe)).GetAsyncEnumerator())
        {
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
        }

        Assert.Empty(Assert.Single(fixture.Log.AttemptsOf(subscribe)).Values("grpc-timeout"));
        await client.InterruptAsync(id).DefaultTimeout();
    }

    /// <summary>Reads a <c>grpc-timeout</c> value as sent by grpc-dotnet (digits and one unit letter).</summary>
    private static TimeSpan ParseGrpcTimeout(string value)
    {
        var amount = long.Parse(value[..^1], System.Globalization.CultureInfo.InvariantCulture);
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => throw new FormatException($"Not a grpc-timeout: {value}"),
        };
    }
}
