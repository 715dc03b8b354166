using System.Diagnostics.Metrics;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using FiberManager.Service.Hosting;
using FiberManager.Service.Telemetry;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>A service with a 4 KiB message size limit (so the default input limit is 4 KiB - 64 bytes).</summary>
public sealed class SmallMessagesFixture : IAsyncLifetime
{
    public const int MaxMessageSize = 4096;

    public const int MaxInputSize = MaxMessageSize - ServerOptions.EventEnvelopeSize;

    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(
        new Dictionary<string, string?>
        {
            ["FiberManager:InterruptGracePeriod"] = "00:00:02",
            ["FiberManager:Server:MaxMessageSize"] = MaxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        },
        TestWorkflows.Register);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>Inputs and events near the message size limit: the input limit, and events too large to send.</summary>
public sealed class MessageSizeTests(SmallMessagesFixture fixture) : IClassFixture<SmallMessagesFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    /// <summary>A binary payload whose serialized size is exactly <paramref name="size"/> bytes (tag, 2-byte length, bytes).</summary>
    private static Payload PayloadOfSize(int size)
    {
        var payload = new Payload { Binary = ByteString.CopyFrom(new byte[size - 3]) };
        Assert.Equal(size, payload.CalculateSize());
        return payload;
    }

    private static async Task<List<FiberEvent>> ReadUntilOutputsAsync(IAsyncEnumerator<FiberEvent> events, int outputs)
    {
        var seen = new List<FiberEvent>();
        while (seen.Count(e => e.EventCase == FiberEvent.EventOneofCase.Output) < outputs)
        {
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout(), "the stream ended early");
            seen.Add(events.Current);
        }

        return seen;
    }

    [Fact]
    public async Task Submit_InputAtTheLimit_AcceptedAndItsEchoFitsInAnEvent()
    {
        var id = Ids.New("size-limit");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = Client.SubscribeAsync(id, cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);

        var input = PayloadOfSize(SmallMessagesFixture.MaxInputSize);
        Assert.Equal(1UL, (await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = input }).DefaultTimeout()).Sequence);

        var output = Assert.Single(await ReadUntilOutputsAsync(events, 1), e => e.EventCase == FiberEvent.EventOneofCase.Output);
        Assert.Equal(input, output.Output);
        Assert.True(output.CalculateSize() <= SmallMessagesFixture.MaxMessageSize);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_InputAboveTheLimit_InvalidArgumentInputTooLargeAndNoSequenceUsed()
    {
        var id = Ids.New("size-over");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        Assert.Equal(1UL, (await Client.SubmitAsync(id, Value.ForString("a")).DefaultTimeout()).Sequence);

        var error = await RpcAssert.FailsAsync(
            () => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = PayloadOfSize(SmallMessagesFixture.MaxInputSize + 1) }),
            StatusCode.InvalidArgument,
            ErrorReasons.InputTooLarge);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "input");
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.InputSize, (SmallMessagesFixture.MaxInputSize + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.MaxInputSize, SmallMessagesFixture.MaxInputSize.ToString(System.Globalization.CultureInfo.InvariantCulture));

        Assert.Equal(2UL, (await Client.SubmitAsync(id, Value.ForString("b")).DefaultTimeout()).Sequence);
        var final = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(2UL, final.InputsAccepted);
    }

    [Fact]
    public async Task Submit_DeadlinePassedWhileWaitingForRoom_NextAcceptedInputTakesTheNextSequence()
    {
        var id = Ids.New("size-deadline");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", StartPaused = true, BufferWhilePaused = true, InputCapacity = 1 }).DefaultTimeout();
        Assert.Equal(1UL, (await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout()).Sequence);

        // The client's own deadline or the server's (with its DEADLINE_EXCEEDED reason) may end the call first.
        var error = await Assert.ThrowsAsync<RpcException>(
            () => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)) }, new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(200)))).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);

        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = Client.SubscribeAsync(id, cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);
        await Client.ResumeAsync(id).DefaultTimeout();
        await ReadUntilOutputsAsync(events, 1); // the queue has room again
        Assert.Equal(2UL, (await Client.SubmitAsync(id, Value.ForNumber(3)).DefaultTimeout()).Sequence);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_EventAboveTheMessageLimit_GapForItsSequenceThenTheStreamGoesOn()
    {
        var id = Ids.New("size-gap");
        long tooLarge = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ServiceTelemetryNames.SourceName && instrument.Name == ServiceTelemetryNames.SubscribeEventsTooLarge)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref tooLarge, value));
        listener.Start();
        await Client.StartAsync(id, TestWorkflows.Doubles).DefaultTimeout();
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        await using var events = Client.SubscribeAsync(id, cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);

        // Its output is twice the input: 6000 bytes, above the 4096-byte limit.
        await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Binary(new byte[3000]) }).DefaultTimeout();
        await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Binary("ok"u8) }).DefaultTimeout();

        var seen = await ReadUntilOutputsAsync(events, 1);
        var gap = Assert.Single(seen, e => e.EventCase == FiberEvent.EventOneofCase.Gap);
        Assert.Equal(gap.Sequence, gap.Gap.FromSequence);
        Assert.Equal(gap.Sequence, gap.Gap.ToSequence);
        Assert.NotNull(gap.Time);
        var output = seen[^1];
        Assert.Equal("okok", output.Output.Binary.ToStringUtf8());
        Assert.Equal(gap.Sequence + 1, output.Sequence);

        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(2UL, status.OutputsPublished);
        Assert.Equal(1, Interlocked.Read(ref tooLarge)); // counted before the gap was written
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public void EventEnvelope_LargestSequenceAndTime_FitsTheReservedRoom()
    {
        var output = new Payload { Binary = ByteString.CopyFrom(new byte[100_000]) };
        var e = new FiberEvent
        {
            Sequence = ulong.MaxValue,
            Time = new Timestamp { Seconds = 253_402_300_799, Nanos = 999_999_999 }, // 9999-12-31T23:59:59.999999999Z
            Output = output,
        };

        Assert.True(e.CalculateSize() - output.CalculateSize() <= ServerOptions.EventEnvelopeSize, $"envelope of {e.CalculateSize() - output.CalculateSize()} bytes");
    }

    public static TheoryData<string, string> BadLimits => new()
    {
        { "4096", "4033" },
        { "4096", "0" },
        { "1024", "1000" },
    };

    [Theory]
    [MemberData(nameof(BadLimits))]
    public async Task Start_InputLimitLeavingNoRoomForTheEvent_RefusesToStart(string maxMessageSize, string maxInputSize)
    {
        var start = ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["FiberManager:Server:MaxMessageSize"] = maxMessageSize,
            ["FiberManager:Server:MaxInputSize"] = maxInputSize,
        });

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => start).DefaultTimeout();
        Assert.Contains("MaxInputSize", error.Message, StringComparison.Ordinal);
    }
}
