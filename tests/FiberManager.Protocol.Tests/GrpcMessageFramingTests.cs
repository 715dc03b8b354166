using System.Buffers;
using System.IO.Pipelines;
using FiberManager.Protocol.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Protocol.Tests;

public class GrpcMessageFramingTests
{
    private static readonly GrpcMessageReadOptions s_small = new() { MaxMessageSize = 1024 };

    private static SubmitRequest Submit(string fiberId, string text) => new()
    {
        FiberId = fiberId,
        Input = new Payload { Json = Value.ForString(text) },
        SubmitId = "s-" + fiberId,
    };

    private static SubmitRequest BigSubmit(int size) => new()
    {
        FiberId = "big",
        Input = new Payload { Binary = ByteString.CopyFrom(Enumerable.Range(0, size).Select(i => (byte)i).ToArray()) },
    };

    private static async Task<GrpcStatusException> AssertStatusAsync(GrpcStatusCode code, Func<Task> action)
    {
        GrpcStatusException e = await Assert.ThrowsAsync<GrpcStatusException>(action);
        Assert.Equal(code, e.StatusCode);
        return e;
    }

    private static Pipe CompletedPipe(byte[] body)
    {
        var pipe = new Pipe();
        pipe.Writer.Write(body);
        pipe.Writer.Complete();
        return pipe;
    }

    // ---- writing ----

    [Fact]
    public void WriteMessage_SmallMessage_PrefixThenProtobuf()
    {
        var writer = new ArrayBufferWriter<byte>();
        SubmitRequest message = Submit("chat-1", "hello");

        GrpcMessageFraming.WriteMessage(writer, message);

        Assert.Equal(FrameBuilder.Frame(message), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public async Task WriteMessage_LargeMessageIntoPipe_PrefixThenProtobuf()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        SubmitRequest message = BigSubmit(100_000);

        GrpcMessageFraming.WriteMessage(pipe.Writer, message);
        await pipe.Writer.CompleteAsync().DefaultTimeout();

        ReadResult result = await pipe.Reader.ReadAsync().DefaultTimeout();
        Assert.True(result.IsCompleted);
        Assert.Equal(FrameBuilder.Frame(message), result.Buffer.ToArray());
        pipe.Reader.AdvanceTo(result.Buffer.End);
    }

    [Fact]
    public void WriteMessage_EmptyMessage_FiveZeroBytes()
    {
        var writer = new ArrayBufferWriter<byte>();

        GrpcMessageFraming.WriteMessage(writer, new ListWorkflowsRequest());

        Assert.Equal(new byte[5], writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteMessage_AboveMaxSize_ResourceExhaustedAndNothingWritten()
    {
        var writer = new ArrayBufferWriter<byte>();
        SubmitRequest message = BigSubmit(2000);

        GrpcStatusException e = Assert.Throws<GrpcStatusException>(() => GrpcMessageFraming.WriteMessage(writer, message, maxMessageSize: 1000));

        Assert.Equal(GrpcStatusCode.ResourceExhausted, e.StatusCode);
        Assert.Equal(0, writer.WrittenCount);
    }

    [Fact]
    public void WriteMessage_ExactlyMaxSize_Written()
    {
        var writer = new ArrayBufferWriter<byte>();
        SubmitRequest message = BigSubmit(2000);

        GrpcMessageFraming.WriteMessage(writer, message, maxMessageSize: message.CalculateSize());

        Assert.Equal(FrameBuilder.Frame(message), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteFrame_RawBytes_Prefixed()
    {
        var writer = new ArrayBufferWriter<byte>();

        GrpcMessageFraming.WriteFrame(writer, [1, 2, 3]);

        Assert.Equal(new byte[] { 0, 0, 0, 0, 3, 1, 2, 3 }, writer.WrittenSpan.ToArray());
    }

    // ---- reading from a PipeReader ----

    [Fact]
    public async Task ReadMessageAsync_Pipe_SeveralMessagesInOneBuffer_InOrderThenNull()
    {
        SubmitRequest[] messages = [Submit("a", "1"), Submit("b", "2"), Submit("c", "3")];
        Pipe pipe = CompletedPipe(FrameBuilder.Concat(messages.Select(FrameBuilder.Frame).ToArray()));

        foreach (SubmitRequest expected in messages)
        {
            Assert.Equal(expected, await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        }

        Assert.Null(await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_ByteByByte_CompletesOnlyWithTheLastByte()
    {
        SubmitRequest message = Submit("chat-1", "hello");
        byte[] frame = FrameBuilder.Frame(message);
        var pipe = new Pipe(new PipeOptions(minimumSegmentSize: 1));

        Task<SubmitRequest?> read = GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).AsTask();
        for (int i = 0; i < frame.Length; i++)
        {
            Assert.False(read.IsCompleted, $"completed after {i} of {frame.Length} bytes");
            await pipe.Writer.WriteAsync(frame.AsMemory(i, 1)).DefaultTimeout();
        }

        Assert.Equal(message, await read.DefaultTimeout());
    }

    [Fact]
    public void TryReadFrame_SplitAcrossSegmentsAtEveryOffset_SameMessages()
    {
        SubmitRequest first = Submit("a", "first");
        SubmitRequest second = Submit("b", "second");
        byte[] body = FrameBuilder.Concat(FrameBuilder.Frame(first), FrameBuilder.Frame(second));

        for (int cut1 = 0; cut1 < body.Length; cut1++)
        {
            for (int cut2 = cut1; cut2 < body.Length; cut2 += 3)
            {
                ReadOnlySequence<byte> buffer = FrameBuilder.Segmented(body, cut1, cut2);

                Assert.True(GrpcMessageFraming.TryReadFrame(ref buffer, s_small, out ReadOnlySequence<byte> payload1));
                Assert.Equal(first, SubmitRequest.Parser.ParseFrom(payload1));
                Assert.True(GrpcMessageFraming.TryReadFrame(ref buffer, s_small, out ReadOnlySequence<byte> payload2));
                Assert.Equal(second, SubmitRequest.Parser.ParseFrom(payload2));
                Assert.True(buffer.IsEmpty);
            }
        }
    }

    [Fact]
    public void TryReadFrame_EveryIncompletePrefixOfAFrame_FalseAndBufferUntouched()
    {
        byte[] frame = FrameBuilder.Frame(Submit("a", "x"));

        for (int length = 0; length < frame.Length; length++)
        {
            ReadOnlySequence<byte> buffer = FrameBuilder.Segmented(frame[..length], 2, 4);

            Assert.False(GrpcMessageFraming.TryReadFrame(ref buffer, s_small, out _));
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_LengthAboveMax_ResourceExhaustedBeforeTheBodyArrives()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Raw(0, 1025, [])).DefaultTimeout(); // prefix only, body never sent

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.ResourceExhausted,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, s_small).DefaultTimeout());
        Assert.Equal("Received message exceeds the maximum configured message size.", e.Detail);
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_LengthOfFourGigabytes_ResourceExhausted()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Raw(0, uint.MaxValue, [])).DefaultTimeout();

        await AssertStatusAsync(
            GrpcStatusCode.ResourceExhausted,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_LengthEqualToMax_Accepted()
    {
        SubmitRequest message = BigSubmit(500);
        Pipe pipe = CompletedPipe(FrameBuilder.Frame(message));
        var options = new GrpcMessageReadOptions { MaxMessageSize = message.CalculateSize() };

        Assert.Equal(message, await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, options).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_TruncatedBody_InternalIncompleteMessage()
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Raw(0, 10, [1, 2, 3, 4]));

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        Assert.Equal("Incomplete message.", e.Detail);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task ReadMessageAsync_Pipe_TruncatedPrefix_InternalIncompleteMessage(int prefixBytes)
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Raw(0, 3, [7, 7, 7])[..prefixBytes]);

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        Assert.Equal("Incomplete message.", e.Detail);
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_EmptyBody_Null()
    {
        Pipe pipe = CompletedPipe([]);

        Assert.Null(await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_ZeroLengthMessage_DefaultInstance()
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Raw(0, []));

        Assert.Equal(new SubmitRequest(), await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Theory]
    [InlineData(null, GrpcStatusCode.Internal)]
    [InlineData("", GrpcStatusCode.Internal)]
    [InlineData("identity", GrpcStatusCode.Internal)]
    [InlineData("gzip", GrpcStatusCode.Unimplemented)]
    [InlineData("deflate", GrpcStatusCode.Unimplemented)]
    public async Task ReadMessageAsync_Pipe_CompressedFlag_FailsBeforeTheBodyArrives(string? encoding, GrpcStatusCode expected)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Raw(1, 100, [])).DefaultTimeout(); // prefix only
        var options = new GrpcMessageReadOptions { MessageEncoding = encoding };

        GrpcStatusException e = await AssertStatusAsync(
            expected,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, options).DefaultTimeout());
        if (expected == GrpcStatusCode.Unimplemented)
        {
            Assert.Equal($"Unsupported grpc-encoding value '{encoding}'. Supported encodings: identity", e.Detail);
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(0x80)]
    [InlineData(0xFF)]
    public async Task ReadMessageAsync_Pipe_UnknownFlagValue_Internal(byte flag)
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Raw(flag, []));

        await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_NotProtobuf_InternalAndTheFrameIsConsumed()
    {
        SubmitRequest next = Submit("n", "next");
        Pipe pipe = CompletedPipe(FrameBuilder.Concat(FrameBuilder.Raw(0, [0xFF]), FrameBuilder.Frame(next)));

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        Assert.IsType<InvalidProtocolBufferException>(e.InnerException);
        Assert.Equal(next, await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_CancelPendingRead_Internal()
    {
        var pipe = new Pipe();
        Task<SubmitRequest?> read = GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser).AsTask();

        pipe.Reader.CancelPendingRead();

        GrpcStatusException e = await AssertStatusAsync(GrpcStatusCode.Internal, () => read.DefaultTimeout());
        Assert.Equal("Incoming message cancelled.", e.Detail);
    }

    [Fact]
    public async Task ReadMessageAsync_Pipe_TokenCancelled_OperationCanceled()
    {
        var pipe = new Pipe();
        using var cts = new CancellationTokenSource();
        Task<SubmitRequest?> read = GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, cancellationToken: cts.Token).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Pipe_OneMessage_ReturnedOnceTheBodyEnds()
    {
        SubmitRequest message = Submit("chat-1", "hello");
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Frame(message)).DefaultTimeout();

        Task<SubmitRequest> read = GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).AsTask();
        Assert.False(read.IsCompleted); // the body has not ended: a second message could still come
        await pipe.Writer.CompleteAsync().DefaultTimeout();

        Assert.Equal(message, await read.DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Pipe_TwoMessages_Unimplemented()
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Concat(FrameBuilder.Frame(Submit("a", "1")), FrameBuilder.Frame(Submit("b", "2"))));

        await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Pipe_BytesAfterTheMessage_UnimplementedWithoutWaitingForTheEnd()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Concat(FrameBuilder.Frame(Submit("a", "1")), [0])).DefaultTimeout();

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        Assert.Equal("Expected exactly one message, received additional data after it.", e.Detail);
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Pipe_NoMessage_Unimplemented()
    {
        Pipe pipe = CompletedPipe([]);

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
        Assert.Equal("Expected exactly one message, received none.", e.Detail);
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Pipe_TruncatedMessage_InternalIncompleteMessage()
    {
        Pipe pipe = CompletedPipe(FrameBuilder.Frame(Submit("a", "1"))[..^1]);

        await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public void TryReadSingleMessage_WholeBodyBuffered_ReturnsTheMessageAndConsumesTheBody()
    {
        SubmitRequest message = Submit("chat-1", "hello");
        Pipe pipe = CompletedPipe(FrameBuilder.Frame(message));

        Assert.True(GrpcMessageFraming.TryReadSingleMessage(pipe.Reader, SubmitRequest.Parser, s_small, out SubmitRequest? read));

        Assert.Equal(message, read);
        Assert.True(pipe.Reader.TryRead(out ReadResult rest));
        Assert.True(rest.IsCompleted);
        Assert.True(rest.Buffer.IsEmpty);
    }

    [Fact]
    public void TryReadSingleMessage_NothingBuffered_False()
    {
        var pipe = new Pipe();

        Assert.False(GrpcMessageFraming.TryReadSingleMessage(pipe.Reader, SubmitRequest.Parser, null, out SubmitRequest? read));
        Assert.Null(read);
    }

    [Fact]
    public async Task TryReadSingleMessage_BodyStillOpen_FalseAndTheAsynchronousReadGetsTheSameBytes()
    {
        SubmitRequest message = Submit("chat-1", "hello");
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(FrameBuilder.Frame(message)).DefaultTimeout();

        Assert.False(GrpcMessageFraming.TryReadSingleMessage(pipe.Reader, SubmitRequest.Parser, null, out _));

        Task<SubmitRequest> read = GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).AsTask();
        Assert.False(read.IsCompleted); // a second message could still come
        await pipe.Writer.CompleteAsync().DefaultTimeout();
        Assert.Equal(message, await read.DefaultTimeout());
    }

    public static TheoryData<string, byte[], GrpcStatusCode> InvalidSingleBodies() => new()
    {
        { "two messages", FrameBuilder.Concat(FrameBuilder.Frame(Submit("a", "1")), FrameBuilder.Frame(Submit("b", "2"))), GrpcStatusCode.Unimplemented },
        { "a byte after the message", FrameBuilder.Concat(FrameBuilder.Frame(Submit("a", "1")), [0]), GrpcStatusCode.Unimplemented },
        { "no message", [], GrpcStatusCode.Unimplemented },
        { "truncated message", FrameBuilder.Frame(Submit("a", "1"))[..^1], GrpcStatusCode.Internal },
        { "truncated prefix", [0, 0, 0], GrpcStatusCode.Internal },
        { "compressed flag without grpc-encoding", FrameBuilder.Raw(1, Submit("a", "1").ToByteArray()), GrpcStatusCode.Internal },
        { "invalid compressed flag", FrameBuilder.Raw(2, Submit("a", "1").ToByteArray()), GrpcStatusCode.Internal },
        { "above the size limit", FrameBuilder.Frame(BigSubmit(2048)), GrpcStatusCode.ResourceExhausted },
        { "not a protobuf message", FrameBuilder.Raw(0, [0xFF, 0xFF, 0xFF]), GrpcStatusCode.Internal },
    };

    [Theory]
    [MemberData(nameof(InvalidSingleBodies))]
    public async Task TryReadSingleMessage_InvalidBody_FalseConsumingNothing_TheAsynchronousReadReportsIt(string body, byte[] bytes, GrpcStatusCode expected)
    {
        _ = body;
        Pipe pipe = CompletedPipe(bytes);

        Assert.False(GrpcMessageFraming.TryReadSingleMessage(pipe.Reader, SubmitRequest.Parser, s_small, out SubmitRequest? read));
        Assert.Null(read);

        await AssertStatusAsync(
            expected,
            () => GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser, s_small).DefaultTimeout());
    }

    [Fact]
    public async Task TryReadSingleMessage_PrefixSplitAcrossSegments_FalseAndTheAsynchronousReadParsesIt()
    {
        SubmitRequest message = Submit("chat-1", "hello");
        byte[] frame = FrameBuilder.Frame(message);
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(frame.AsMemory(0, 2)).DefaultTimeout();

        // Two segments: the reader sees the first two bytes in their own buffer segment.
        Assert.True(pipe.Reader.TryRead(out ReadResult partial));
        pipe.Reader.AdvanceTo(partial.Buffer.Start, partial.Buffer.End);
        Memory<byte> span = pipe.Writer.GetMemory(4096);
        frame.AsSpan(2).CopyTo(span.Span);
        pipe.Writer.Advance(frame.Length - 2);
        await pipe.Writer.CompleteAsync().DefaultTimeout();

        Assert.False(GrpcMessageFraming.TryReadSingleMessage(pipe.Reader, SubmitRequest.Parser, null, out _));
        Assert.Equal(message, await GrpcMessageFraming.ReadSingleMessageAsync(pipe.Reader, SubmitRequest.Parser).DefaultTimeout());
    }

    // ---- reading from a Stream ----

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task ReadMessageAsync_Stream_SeveralMessages_InOrderThenNullWithoutOverreading(int chunk)
    {
        FiberEvent[] events =
        [
            new() { Sequence = 1, Output = new Payload { Json = Value.ForNumber(1) } },
            new() { Sequence = 2, StatusChanged = new StatusChanged { Previous = FiberStatus.Idle, Current = FiberStatus.Running } },
            new() { Sequence = 3, Gap = new Gap { FromSequence = 3, ToSequence = 3 } },
        ];
        byte[][] frames = events.Select(FrameBuilder.Frame).ToArray();
        var stream = new TrickleStream(FrameBuilder.Concat(frames), chunk);

        long expectedPosition = 0;
        for (int i = 0; i < events.Length; i++)
        {
            Assert.Equal(events[i], await GrpcMessageFraming.ReadMessageAsync(stream, FiberEvent.Parser).DefaultTimeout());
            expectedPosition += frames[i].Length;
            Assert.Equal(expectedPosition, stream.Position);
        }

        Assert.Null(await GrpcMessageFraming.ReadMessageAsync(stream, FiberEvent.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Stream_LargeMessage_RoundTrips()
    {
        SubmitRequest message = BigSubmit(300_000);
        var stream = new TrickleStream(FrameBuilder.Frame(message), 8192);

        Assert.Equal(message, await GrpcMessageFraming.ReadMessageAsync(stream, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Stream_LengthAboveMax_ResourceExhaustedAfterReadingOnlyThePrefix()
    {
        var stream = new TrickleStream(FrameBuilder.Raw(0, 2000, new byte[2000]), 4096);

        await AssertStatusAsync(
            GrpcStatusCode.ResourceExhausted,
            () => GrpcMessageFraming.ReadMessageAsync(stream, SubmitRequest.Parser, s_small).DefaultTimeout());
        Assert.Equal(GrpcMessageFraming.HeaderSize, stream.Position);
    }

    [Fact]
    public async Task ReadMessageAsync_Stream_CompressedWithUnsupportedEncoding_UnimplementedAfterReadingOnlyThePrefix()
    {
        var stream = new TrickleStream(FrameBuilder.Raw(1, new byte[50]), 4096);
        var options = new GrpcMessageReadOptions { MessageEncoding = "gzip" };

        await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadMessageAsync(stream, SubmitRequest.Parser, options).DefaultTimeout());
        Assert.Equal(GrpcMessageFraming.HeaderSize, stream.Position);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(9)]
    public async Task ReadMessageAsync_Stream_Truncated_InternalIncompleteMessage(int length)
    {
        byte[] frame = FrameBuilder.Raw(0, [1, 2, 3, 4, 5]);
        var stream = new TrickleStream(frame[..length], 2);

        GrpcStatusException e = await AssertStatusAsync(
            GrpcStatusCode.Internal,
            () => GrpcMessageFraming.ReadMessageAsync(stream, SubmitRequest.Parser).DefaultTimeout());
        Assert.Equal("Incomplete message.", e.Detail);
    }

    [Fact]
    public async Task ReadMessageAsync_Stream_ZeroLengthMessage_DefaultInstance()
    {
        var stream = new TrickleStream(FrameBuilder.Raw(0, []), 16);

        Assert.Equal(new FiberEvent(), await GrpcMessageFraming.ReadMessageAsync(stream, FiberEvent.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadMessageAsync_Stream_CancelledToken_OperationCanceled()
    {
        var stream = new TrickleStream(FrameBuilder.Frame(Submit("a", "1")), 16);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => GrpcMessageFraming.ReadMessageAsync(stream, SubmitRequest.Parser, cancellationToken: cts.Token).DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Stream_OneMessage_Returned()
    {
        SubmitRequest message = Submit("a", "1");
        var stream = new TrickleStream(FrameBuilder.Frame(message), 3);

        Assert.Equal(message, await GrpcMessageFraming.ReadSingleMessageAsync(stream, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Stream_TwoMessages_Unimplemented()
    {
        var stream = new TrickleStream(FrameBuilder.Concat(FrameBuilder.Frame(Submit("a", "1")), FrameBuilder.Frame(Submit("b", "2"))), 64);

        await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadSingleMessageAsync(stream, SubmitRequest.Parser).DefaultTimeout());
    }

    [Fact]
    public async Task ReadSingleMessageAsync_Stream_NoMessage_Unimplemented()
    {
        var stream = new TrickleStream([], 64);

        await AssertStatusAsync(
            GrpcStatusCode.Unimplemented,
            () => GrpcMessageFraming.ReadSingleMessageAsync(stream, SubmitRequest.Parser).DefaultTimeout());
    }

    // ---- both directions ----

    [Fact]
    public async Task WriteThenRead_ThroughAPipe_RoundTrips()
    {
        var pipe = new Pipe();
        SubmitRequest[] messages = [Submit("a", "1"), BigSubmit(40_000), new SubmitRequest()];
        foreach (SubmitRequest message in messages)
        {
            GrpcMessageFraming.WriteMessage(pipe.Writer, message);
            await pipe.Writer.FlushAsync().DefaultTimeout();
        }

        await pipe.Writer.CompleteAsync().DefaultTimeout();

        var options = new GrpcMessageReadOptions { MaxMessageSize = 64 * 1024 };
        foreach (SubmitRequest expected in messages)
        {
            Assert.Equal(expected, await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, options).DefaultTimeout());
        }

        Assert.Null(await GrpcMessageFraming.ReadMessageAsync(pipe.Reader, SubmitRequest.Parser, options).DefaultTimeout());
    }

    [Fact]
    public void ReadOptions_NegativeMaxMessageSize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrpcMessageReadOptions { MaxMessageSize = -1 });
        Assert.Equal(4 * 1024 * 1024, GrpcMessageReadOptions.Default.MaxMessageSize);
        Assert.Null(GrpcMessageReadOptions.Default.MessageEncoding);
    }
}
