using System.Net;
using FiberManager.Client;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;

namespace FiberManager.Service.Tests;

/// <summary>Cancellation mid-stream and many concurrent streams on one connection.</summary>
public sealed class StreamingTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Subscribe_CancelledAfterThreeEvents_ServerDropsTheSubscriberAndKeepsServing()
    {
        var id = Ids.New("cancel");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        for (var i = 1; i <= 5; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        using var cts = new CancellationTokenSource();
        var received = new List<FiberEvent>();
        var enumeration = Task.Run(async () =>
        {
            await foreach (var e in Client.SubscribeAsync(id, cancellationToken: cts.Token))
            {
                received.Add(e);
                if (received.Count == 3)
                {
                    Assert.Equal(1U, (await Client.GetStatusAsync(id).DefaultTimeout()).Subscribers);
                    await cts.CancelAsync();
                }
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enumeration).DefaultTimeout();
        Assert.Equal(3, received.Count);

        // The server saw the reset: the subscription is gone.
        await Eventually.UntilAsync(() => Client.GetStatusAsync(id), s => s.Subscribers == 0);

        // And it keeps serving: the fiber is live, new inputs flow to a new subscriber.
        await Client.SubmitAsync(id, Value.ForNumber(6)).DefaultTimeout();
        await using var again = new EventReader(Client, id, received[^1].Sequence);
        for (var i = 4; i <= 6; i++)
        {
            Assert.Equal(i, (await again.NextAsync()).Output.Json.NumberValue);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
        await again.TerminatedThenEndAsync();
    }

    [Fact]
    public async Task Subscribe_EnumerationAbandonedByBreak_ServerDropsTheSubscriber()
    {
        var id = Ids.New("break");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();

        await foreach (var e in Client.SubscribeAsync(id).WithCancellation(CancellationToken.None))
        {
            Assert.Equal(1, e.Output.Json.NumberValue);
            break;
        }

        await Eventually.UntilAsync(() => Client.GetStatusAsync(id), s => s.Subscribers == 0);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_StreamDeadline_DeadlineExceededAndSubscriberDropped()
    {
        var id = Ids.New("stream-deadline");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
        var received = 0;

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            var request = new SubscribeRequest { FiberId = id };
            await foreach (var e in Client.SubscribeAsync(request, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(300))))
            {
                received++;
            }
        }).DefaultTimeout();

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(received, 0, 1); // 0 only if the deadline passed before the replayed output arrived
        await Eventually.UntilAsync(() => Client.GetStatusAsync(id), s => s.Subscribers == 0);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_200ConcurrentStreamsOnOneConnection_AllGetFirstOutputAndTerminated()
    {
        const int Streams = 200;

        // One HTTP/2 connection only: with Kestrel's default of 100 streams per connection, stream
        // 101 would wait silently and this test would time out.
        using var http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = false })
        {
            BaseAddress = fixture.Host.Address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        using var channel = GrpcChannel.ForAddress(fixture.Host.Address, new GrpcChannelOptions { HttpClient = http });
        using var client = new FiberManagerClient(channel);
        var id = Ids.New("many");
        await client.StartAsync(id, "echo").DefaultTimeout();
        await client.SubmitAsync(id, Value.ForString("first")).DefaultTimeout();

        var readers = Enumerable.Range(0, Streams).Select(_ => new EventReader(client, id)).ToArray();
        try
        {
            // Every stream gets the first output (replayed) while all 200 are open at once.
            var firsts = await Task.WhenAll(readers.Select(r => r.NextAsync())).DefaultTimeout();
            Assert.All(firsts, e => Assert.Equal("first", e.Output.Json.StringValue));
            Assert.Equal((uint)Streams, (await client.GetStatusAsync(id).DefaultTimeout()).Subscribers);

            await client.InterruptAsync(id).DefaultTimeout();

            var terminated = await Task.WhenAll(readers.Select(r => r.TerminatedThenEndAsync())).DefaultTimeout();
            Assert.All(terminated, e => Assert.Equal(ExitKind.Interrupted, e.Terminated.Exit.Kind));
        }
        finally
        {
            foreach (var reader in readers)
            {
                await reader.DisposeAsync();
            }
        }
    }
}
