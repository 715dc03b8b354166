using FiberManager.Client;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using static FiberManager.Hardening.Tests.Faults.EventStreams;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// Subscribers that misbehave on the wire: one that stops reading (HTTP/2 flow control fills up)
/// must not slow the fiber or anyone else, and sees a gap; ones that cancel, reset their stream
/// or lose their TCP connection leave no subscription behind.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class SubscriberFaultTests : IAsyncLifetime
{
    private FaultHost _host = null!;

    private FiberManagerClient Client => _host.Client;

    public async Task InitializeAsync() => _host = await FaultHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static V1.SubmitRequest Binary(string id, int index, int size)
    {
        var bytes = new byte[size];
        BitConverter.TryWriteBytes(bytes, index);
        return new V1.SubmitRequest { FiberId = id, Input = new V1.Payload { Binary = ByteString.CopyFrom(bytes) } };
    }

    [Fact]
    public async Task StalledSubscriber_FlowControlFull_FiberKeepsGoing_OthersGetEverything_StalledLaterSeesGap()
    {
        const string id = "stall";
        const int inputs = 200;
        const int size = 16 * 1024; // 3.2 MB in all: far more than the HTTP/2 windows and Kestrel's buffers hold
        await Client.StartAsync(id, "echo").DefaultTimeout();
        using var raw = new RawGrpcClient(_host.Host.Address);
        var stalledOpening = raw.SubscribeAsync(id);
        await using var good = Client.SubscribeAsync(id).GetAsyncEnumerator();

        await Client.SubmitAsync(Binary(id, 1, size)).DefaultTimeout();
        Assert.True(await good.MoveNextAsync().AsTask().DefaultTimeout());
        using var stalled = await stalledOpening; // its headers came with its first event: it is subscribed, and never reads again until the end
        for (var i = 2; i <= inputs; i++)
        {
            await Client.SubmitAsync(Binary(id, i, size)).DefaultTimeout();
            Assert.True(await good.MoveNextAsync().AsTask().DefaultTimeout());
            Assert.Equal(V1.FiberEvent.EventOneofCase.Output, good.Current.EventCase);
            Assert.Equal((ulong)i, good.Current.Sequence);
            Assert.Equal(i, BitConverter.ToInt32(good.Current.Output.Binary.Span));
        }

        var during = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal((ulong)inputs, during.InputsProcessed);
        Assert.Equal(2u, during.Subscribers);

        await Client.InterruptAsync(id).DefaultTimeout();
        Assert.True(await good.MoveNextAsync().AsTask().DefaultTimeout());
        Assert.Equal(V1.FiberEvent.EventOneofCase.Terminated, good.Current.EventCase);
        Assert.False(await good.MoveNextAsync().AsTask().DefaultTimeout());

        // The stalled subscriber reads at last: what fitted in the pipes, then a gap for what did not, then the end.
        var (events, status) = await stalled.ReadToEndAsync(V1.FiberEvent.Parser);
        Assert.Equal("0", status);
        AssertWellFormed(events);
        Assert.Contains(events, e => e.EventCase == V1.FiberEvent.EventOneofCase.Gap);
        Assert.True(events.Count < inputs, $"the stalled subscriber got {events.Count} events: it was never stalled");
        await _host.WaitForStatusAsync(id, f => f.Subscribers == 0, "subscribers back to 0");
        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = inputs });
    }

    [Fact]
    public async Task SubscribersCancelResetOrLoseTheirConnection_NoSubscriptionLeaks()
    {
        const string id = "disconnect";
        const int each = 5;
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("first")).DefaultTimeout();

        // Each subscriber has its first event (from the replay window), so each is registered.
        var typed = new List<(CancellationTokenSource Cancel, IAsyncEnumerator<V1.FiberEvent> Events)>();
        for (var i = 0; i < each; i++)
        {
            var cancel = new CancellationTokenSource();
            var events = Client.SubscribeAsync(id, cancellationToken: cancel.Token).GetAsyncEnumerator(cancel.Token);
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
            typed.Add((cancel, events));
        }

        using var resetting = new RawGrpcClient(_host.Host.Address);
        using var dropped = new RawGrpcClient(_host.Host.Address);
        var raw = new List<RawStream>();
        foreach (var client in new[] { resetting, dropped })
        {
            for (var i = 0; i < each; i++)
            {
                var stream = await client.SubscribeAsync(id);
                Assert.Equal("first", (await stream.ReadEventAsync())!.Output.Json.StringValue);
                raw.Add(stream);
            }
        }

        Assert.Equal((uint)(3 * each), (await Client.GetStatusAsync(id).DefaultTimeout()).Subscribers);

        foreach (var (cancel, _) in typed)
        {
            cancel.Cancel(); // the client resets the stream
        }

        foreach (var stream in raw.Take(each))
        {
            stream.Dispose(); // RST_STREAM mid-stream
        }

        dropped.DropConnections(); // TCP reset, no HTTP/2 goodbye

        await _host.WaitForStatusAsync(id, f => f.Subscribers == 0, "every subscription removed");
        foreach (var (cancel, events) in typed)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await events.MoveNextAsync()).DefaultTimeout();
            await events.DisposeAsync();
            cancel.Dispose();
        }

        foreach (var stream in raw.Skip(each))
        {
            stream.Dispose();
        }

        // The fiber never noticed: it takes input and a new subscriber sees it next.
        await Client.SubmitAsync(id, Value.ForString("after")).DefaultTimeout();
        await using var fresh = Client.SubscribeAsync(id, fromSequence: 1).GetAsyncEnumerator();
        Assert.True(await fresh.MoveNextAsync().AsTask().DefaultTimeout());
        Assert.Equal("after", fresh.Current.Output.Json.StringValue);
        await Client.InterruptAsync(id).DefaultTimeout();
        while (await fresh.MoveNextAsync().AsTask().DefaultTimeout())
        {
        }

        await _host.EndAllAndAssertInvariantsAsync(new Dictionary<string, long> { [id] = 2 });

        // A client going away is not a server error: nothing about it is logged as one.
        Assert.DoesNotContain(_host.Logs.Records, r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }
}
