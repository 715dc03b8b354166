using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace FiberManager.Client.Tests;

/// <summary>The typed calls against the real service, over the client's own connections and over a caller's channel.</summary>
public sealed class FiberManagerClientTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task TypedCalls_EveryRpc_ReturnsWhatTheServiceDid()
    {
        var id = Ids.New("typed");
        Assert.Contains(await Client.ListWorkflowsAsync().DefaultTimeout(), w => w.Name == "echo");

        var started = await Client.StartAsync(id, "echo").DefaultTimeout();
        Assert.True(started.Created);
        Assert.Equal(id, started.Fiber.FiberId);

        var submitted = await Client.SubmitAsync(id, Value.ForString("hello")).DefaultTimeout();
        Assert.Equal(1UL, submitted.Sequence);
        var binary = await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Binary([1, 2, 3]) }).DefaultTimeout();
        Assert.Equal(2UL, binary.Sequence);

        var outputs = new List<Payload>();
        using var bounded = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in Client.SubscribeAsync(id, cancellationToken: bounded.Token))
        {
            if (e.EventCase == FiberEvent.EventOneofCase.Output)
            {
                outputs.Add(e.Output);
                if (outputs.Count == 2)
                {
                    break;
                }
            }
        }

        Assert.Equal("hello", outputs[0].Json.StringValue);
        Assert.Equal(new byte[] { 1, 2, 3 }, outputs[1].Binary.ToByteArray());

        Assert.Equal(FiberStatus.Paused, (await Client.PauseAsync(id).DefaultTimeout()).Status);
        Assert.NotEqual(FiberStatus.Paused, (await Client.ResumeAsync(id).DefaultTimeout()).Status);
        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal("echo", status.Workflow);
        Assert.Equal(2UL, status.InputsAccepted);
        var listed = await Client.ListFibersAsync(new ListFibersRequest { Workflow = "echo" }).DefaultTimeout();
        Assert.Contains(listed.Fibers, f => f.FiberId == id);

        var final = await Client.InterruptAsync(id, TimeSpan.FromSeconds(1)).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, final.Status);
    }

    [Fact]
    public async Task OverACallersChannel_CallsAndSubscribeGoThroughIt_ChannelLeftOpen()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Host.Address);
        var id = Ids.New("channel");
        using (var client = new FiberManagerClient(channel))
        {
            Assert.True((await client.StartAsync(id, "echo").DefaultTimeout()).Created);
            await client.SubmitAsync(id, Value.ForNumber(7)).DefaultTimeout();
            await using var events = client.SubscribeAsync(id).GetAsyncEnumerator();
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
            Assert.Equal(7, events.Current.Output.Json.NumberValue);
        }

        // Disposing the client left the caller's channel usable.
        using var again = new FiberManagerClient(channel);
        Assert.Equal(FiberStatus.Interrupted, (await again.InterruptAsync(id).DefaultTimeout()).Status);
    }

    [Fact]
    public void OverACallersChannel_CertificateOptions_Rejected()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Host.Address);
        using var certificates = new TestCertificates();
        var error = Assert.Throws<ArgumentException>(() => new FiberManagerClient(channel, new FiberManagerClientOptions { ServerCertificateAuthority = certificates.Ca }));
        Assert.Contains("HTTP handler", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnaryCall_TokenCancelledWhileTheServerWaits_OperationCanceled_InputNotAccepted()
    {
        var id = Ids.New("cancel");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", InputCapacity = 1, StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout(); // the queue is full now

        var call = Ids.New("waiting-submit");
        using var cancel = new CancellationTokenSource();
        var waiting = Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)) }, ServiceFixture.Marked(call), cancel.Token);
        await fixture.Log.WaitForAttemptsAsync(call, 1);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).DefaultTimeout();

        var final = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(1UL, final.Exit.InputsUnprocessed);
    }

    [Fact]
    public async Task Subscribe_TokenInCallOptionsOrArgument_EitherCancelsWithOperationCanceled()
    {
        var id = Ids.New("cancel-stream");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("first")).DefaultTimeout();

        foreach (var viaOptions in new[] { true, false })
        {
            using var cancel = new CancellationTokenSource();
            using var other = new CancellationTokenSource();
            var request = new SubscribeRequest { FiberId = id };
            var events = viaOptions
                ? Client.SubscribeAsync(request, new CallOptions(cancellationToken: cancel.Token), other.Token)
                : Client.SubscribeAsync(request, new CallOptions(cancellationToken: other.Token), cancel.Token);
            await using var reader = events.GetAsyncEnumerator();
            Assert.True(await reader.MoveNextAsync().AsTask().DefaultTimeout());
            var next = reader.MoveNextAsync().AsTask();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next).DefaultTimeout();
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }
}
