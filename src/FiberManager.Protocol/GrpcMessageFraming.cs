using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using Google.Protobuf;

namespace FiberManager.Protocol;

/// <summary>
/// gRPC's length-prefixed messages: each message on the HTTP/2 body is a 5-byte prefix (a
/// compressed flag byte, then the message length as a big-endian unsigned 32-bit integer)
/// followed by that many bytes of protobuf.
/// </summary>
/// <remarks>
/// <para>
/// Writing goes straight into an <see cref="IBufferWriter{T}"/> (Kestrel's
/// <c>HttpResponse.BodyWriter</c> is a <see cref="PipeWriter"/>): no intermediate array. Reading
/// comes from a <see cref="PipeReader"/> (the server's <c>HttpRequest.BodyReader</c>) or a
/// <see cref="Stream"/> (the client's response stream, read exactly frame by frame so nothing
/// beyond a message is consumed).
/// </para>
/// <para>Every failure is a <see cref="GrpcStatusException"/> with these codes:</para>
/// <list type="table">
/// <listheader><term>condition</term><description>status</description></listheader>
/// <item><term>the prefix's length is above <see cref="GrpcMessageReadOptions.MaxMessageSize"/>
/// (checked as soon as the 5 bytes are in, before any of the message is buffered or read)</term>
/// <description>RESOURCE_EXHAUSTED "Received message exceeds the maximum configured message size."</description></item>
/// <item><term>compressed flag 1 and <c>grpc-encoding</c> absent, empty or <c>identity</c> (a
/// protocol violation: the flag must be 0 then)</term>
/// <description>INTERNAL</description></item>
/// <item><term>compressed flag 1 and any other <c>grpc-encoding</c> (FiberManager decompresses
/// nothing and advertises <c>grpc-accept-encoding: identity</c>)</term>
/// <description>UNIMPLEMENTED "Unsupported grpc-encoding value '…'. Supported encodings: identity"</description></item>
/// <item><term>compressed flag other than 0 or 1</term><description>INTERNAL</description></item>
/// <item><term>the body ends inside a prefix or inside a message</term>
/// <description>INTERNAL "Incomplete message."</description></item>
/// <item><term>the message bytes are not a valid protobuf message of the expected type</term>
/// <description>INTERNAL "Failed to deserialize the message."</description></item>
/// <item><term><see cref="ReadResult.IsCanceled"/> (someone called <see cref="PipeReader.CancelPendingRead"/>)</term>
/// <description>INTERNAL "Incoming message cancelled."</description></item>
/// <item><term>a single-message read (unary request or response) finds no message, or data after it</term>
/// <description>UNIMPLEMENTED: a cardinality violation, as the gRPC status-code table prescribes
/// (grpc-dotnet's server answers INTERNAL here; gRPC's spec and the other stacks say UNIMPLEMENTED)</description></item>
/// <item><term>the message to write is above the sender's maximum</term>
/// <description>RESOURCE_EXHAUSTED "Sending message exceeds the maximum configured message size."</description></item>
/// </list>
/// <para>
/// Cancellation through the <see cref="CancellationToken"/> surfaces as
/// <see cref="OperationCanceledException"/>, and transport failures (a reset stream) as the
/// <see cref="IOException"/> the reader throws: the caller decides which status they mean.
/// </para>
/// </remarks>
public static class GrpcMessageFraming
{
    /// <summary>The size of the prefix before each message: 1 flag byte and 4 length bytes.</summary>
    public const int HeaderSize = 5;

    internal const string IncompleteMessage = "Incomplete message.";
    internal const string MessageTooLarge = "Received message exceeds the maximum configured message size.";
    internal const string SendMessageTooLarge = "Sending message exceeds the maximum configured message size.";
    internal const string DeserializeFailed = "Failed to deserialize the message.";
    internal const string ReadCancelled = "Incoming message cancelled.";
    internal const string InvalidCompressedFlag = "Unexpected compressed flag value in message header.";
    internal const string CompressedWithoutEncoding = "Message has the compressed flag set but no grpc-encoding was sent.";
    internal const string CompressedWithIdentity = "Message has the compressed flag set but grpc-encoding is 'identity'.";
    internal const string NoMessage = "Expected exactly one message, received none.";
    internal const string AdditionalData = "Expected exactly one message, received additional data after it.";

    // Messages up to this size are written with a single GetSpan/Advance pair.
    private const int SingleSpanThreshold = 16 * 1024;

    /// <summary>
    /// Writes one message with its 5-byte prefix (compressed flag 0) into <paramref name="writer"/>.
    /// Does not flush.
    /// </summary>
    /// <param name="writer">The destination, for example <c>HttpResponse.BodyWriter</c>.</param>
    /// <param name="message">The message.</param>
    /// <param name="maxMessageSize">The largest message this side may send; default unlimited.</param>
    /// <exception cref="GrpcStatusException">RESOURCE_EXHAUSTED when the message is larger than <paramref name="maxMessageSize"/>; nothing is written then.</exception>
    /// <example><code>GrpcMessageFraming.WriteMessage(response.BodyWriter, reply); await response.BodyWriter.FlushAsync(ct);</code></example>
    public static void WriteMessage(IBufferWriter<byte> writer, IMessage message, int maxMessageSize = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(message);

        int size = message.CalculateSize();
        if (size > maxMessageSize)
        {
            throw new GrpcStatusException(GrpcStatusCode.ResourceExhausted, SendMessageTooLarge);
        }

        if (size <= SingleSpanThreshold)
        {
            Span<byte> span = writer.GetSpan(HeaderSize + size);
            WriteHeader(span, size);
            message.WriteTo(span.Slice(HeaderSize, size));
            writer.Advance(HeaderSize + size);
        }
        else
        {
            WriteHeader(writer.GetSpan(HeaderSize), size);
            writer.Advance(HeaderSize);
            message.WriteTo(writer);
        }
    }

    /// <summary>
    /// Writes already-serialized message bytes with their 5-byte prefix (compressed flag 0).
    /// Useful for pre-built bodies (load tests) and for tests.
    /// </summary>
    /// <param name="writer">The destination.</param>
    /// <param name="payload">The serialized message.</param>
    public static void WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);

        Span<byte> span = writer.GetSpan(HeaderSize + payload.Length);
        WriteHeader(span, payload.Length);
        payload.CopyTo(span[HeaderSize..]);
        writer.Advance(HeaderSize + payload.Length);
    }

    /// <summary>
    /// Reads the next message from a pipe, for streams of messages. Leaves any bytes after it in
    /// the pipe for the next call.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="reader">The source, for example <c>HttpRequest.BodyReader</c>.</param>
    /// <param name="parser">The message type's parser, for example <c>SubmitRequest.Parser</c>.</param>
    /// <param name="options">Limits; <see cref="GrpcMessageReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for data.</param>
    /// <returns>The message, or <see langword="null"/> when the body ended cleanly before another prefix.</returns>
    /// <exception cref="GrpcStatusException">A framing error; see the table on <see cref="GrpcMessageFraming"/>.</exception>
    public static async ValueTask<T?> ReadMessageAsync<T>(
        PipeReader reader,
        MessageParser<T> parser,
        GrpcMessageReadOptions? options = null,
        CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(parser);
        options ??= GrpcMessageReadOptions.Default;

        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition consumed = buffer.Start;
            SequencePosition examined = buffer.End;
            try
            {
                if (result.IsCanceled)
                {
                    throw new GrpcStatusException(GrpcStatusCode.Internal, ReadCancelled);
                }

                if (TryReadFrame(ref buffer, options, out ReadOnlySequence<byte> payload))
                {
                    // Parse before AdvanceTo releases the memory the payload points into.
                    consumed = buffer.Start;
                    examined = buffer.Start;
                    return Parse(parser, payload);
                }

                if (result.IsCompleted)
                {
                    return buffer.IsEmpty
                        ? null
                        : throw new GrpcStatusException(GrpcStatusCode.Internal, IncompleteMessage);
                }
            }
            finally
            {
                reader.AdvanceTo(consumed, examined);
            }
        }
    }

    /// <summary>
    /// Reads the only message of a body (a unary request on the server): exactly one message,
    /// then the end of the body.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="reader">The source, for example <c>HttpRequest.BodyReader</c>.</param>
    /// <param name="parser">The message type's parser.</param>
    /// <param name="options">Limits; <see cref="GrpcMessageReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for data.</param>
    /// <returns>The message.</returns>
    /// <exception cref="GrpcStatusException">
    /// UNIMPLEMENTED when the body holds no message or more data after the message; otherwise a
    /// framing error (see the table on <see cref="GrpcMessageFraming"/>).
    /// </exception>
    /// <example><code>var request = await GrpcMessageFraming.ReadSingleMessageAsync(http.Request.BodyReader, StartRequest.Parser, options, ct);</code></example>
    public static async ValueTask<T> ReadSingleMessageAsync<T>(
        PipeReader reader,
        MessageParser<T> parser,
        GrpcMessageReadOptions? options = null,
        CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        T message = await ReadMessageAsync(reader, parser, options, cancellationToken).ConfigureAwait(false)
            ?? throw new GrpcStatusException(GrpcStatusCode.Unimplemented, NoMessage);

        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCanceled)
            {
                throw new GrpcStatusException(GrpcStatusCode.Internal, ReadCancelled);
            }

            if (!buffer.IsEmpty)
            {
                throw new GrpcStatusException(GrpcStatusCode.Unimplemented, AdditionalData);
            }

            if (result.IsCompleted)
            {
                return message;
            }
        }
    }

    /// <summary>
    /// Takes the only message of a body without waiting, when the whole body is already
    /// buffered: exactly one valid message followed by the end of the body. Anything else (the
    /// body still open, no message, data after it, a bad prefix or message, a cancelled read)
    /// consumes nothing and returns <see langword="false"/>, so that
    /// <see cref="ReadSingleMessageAsync{T}(PipeReader, MessageParser{T}, GrpcMessageReadOptions?, CancellationToken)"/>
    /// then reads the same bytes and reports what is wrong with them.
    /// </summary>
    /// <remarks>
    /// A unary request usually arrives in one HTTP/2 DATA frame with END_STREAM before the
    /// method runs; taking it here saves the asynchronous read (and its state machines) per call.
    /// </remarks>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="reader">The source, for example <c>HttpRequest.BodyReader</c>.</param>
    /// <param name="parser">The message type's parser.</param>
    /// <param name="options">Limits; <see cref="GrpcMessageReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="message">The message, when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when the body was exactly one message and has been consumed.</returns>
    /// <example><code>
    /// var request = GrpcMessageFraming.TryReadSingleMessage(body, SubmitRequest.Parser, options, out var m)
    ///     ? m
    ///     : await GrpcMessageFraming.ReadSingleMessageAsync(body, SubmitRequest.Parser, options, ct);
    /// </code></example>
    public static bool TryReadSingleMessage<T>(
        PipeReader reader,
        MessageParser<T> parser,
        GrpcMessageReadOptions? options,
        [NotNullWhen(true)] out T? message)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(parser);
        options ??= GrpcMessageReadOptions.Default;

        message = null;
        if (!reader.TryRead(out ReadResult result))
        {
            return false;
        }

        ReadOnlySequence<byte> buffer = result.Buffer;
        SequencePosition consumed = buffer.Start;
        try
        {
            if (!result.IsCompleted || result.IsCanceled || !TryPeekFrame(buffer, options, out ReadOnlySequence<byte> payload, out SequencePosition frameEnd)
                || !buffer.Slice(frameEnd).IsEmpty)
            {
                return false;
            }

            try
            {
                message = parser.ParseFrom(payload);
            }
            catch (InvalidProtocolBufferException)
            {
                return false; // the asynchronous read reports it
            }

            consumed = buffer.End;
            return true;
        }
        finally
        {
            // Nothing examined on failure: the next read returns the same bytes at once.
            reader.AdvanceTo(consumed, consumed);
        }
    }

    /// <summary>
    /// Reads the next message from a stream (the client's response body). Reads exactly the
    /// prefix, checks it, then reads exactly the message: nothing after the message is consumed.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="stream">The source, for example <c>HttpResponseMessage.Content</c>'s stream.</param>
    /// <param name="parser">The message type's parser.</param>
    /// <param name="options">Limits; <see cref="GrpcMessageReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>The message, or <see langword="null"/> when the stream ended cleanly before another prefix.</returns>
    /// <exception cref="GrpcStatusException">A framing error; see the table on <see cref="GrpcMessageFraming"/>.</exception>
    /// <example><code>while (await GrpcMessageFraming.ReadMessageAsync(body, FiberEvent.Parser, null, ct) is { } e) { yield return e; }</code></example>
    public static async ValueTask<T?> ReadMessageAsync<T>(
        Stream stream,
        MessageParser<T> parser,
        GrpcMessageReadOptions? options = null,
        CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parser);
        options ??= GrpcMessageReadOptions.Default;

        int length;
        byte[] header = ArrayPool<byte>.Shared.Rent(HeaderSize);
        try
        {
            int read = await stream.ReadAtLeastAsync(header.AsMemory(0, HeaderSize), HeaderSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            if (read < HeaderSize)
            {
                throw new GrpcStatusException(GrpcStatusCode.Internal, IncompleteMessage);
            }

            length = ReadHeader(header.AsSpan(0, HeaderSize), options);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
        }

        if (length == 0)
        {
            return Parse(parser, ReadOnlySequence<byte>.Empty);
        }

        byte[] body = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int read = await stream.ReadAtLeastAsync(body.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return read < length
                ? throw new GrpcStatusException(GrpcStatusCode.Internal, IncompleteMessage)
                : Parse(parser, new ReadOnlySequence<byte>(body, 0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>
    /// Reads the only message of a stream (a unary response on the client): exactly one message,
    /// then the end of the stream.
    /// </summary>
    /// <remarks>
    /// A client reads the trailers before blaming the server for a missing message: a non-OK
    /// <c>grpc-status</c> explains an empty body better than UNIMPLEMENTED does.
    /// </remarks>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="stream">The source.</param>
    /// <param name="parser">The message type's parser.</param>
    /// <param name="options">Limits; <see cref="GrpcMessageReadOptions.Default"/> when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <returns>The message.</returns>
    /// <exception cref="GrpcStatusException">
    /// UNIMPLEMENTED when the stream holds no message or more data after the message; otherwise a
    /// framing error (see the table on <see cref="GrpcMessageFraming"/>).
    /// </exception>
    public static async ValueTask<T> ReadSingleMessageAsync<T>(
        Stream stream,
        MessageParser<T> parser,
        GrpcMessageReadOptions? options = null,
        CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        T message = await ReadMessageAsync(stream, parser, options, cancellationToken).ConfigureAwait(false)
            ?? throw new GrpcStatusException(GrpcStatusCode.Unimplemented, NoMessage);

        byte[] probe = ArrayPool<byte>.Shared.Rent(1);
        try
        {
            int read = await stream.ReadAsync(probe.AsMemory(0, 1), cancellationToken).ConfigureAwait(false);
            return read == 0 ? message : throw new GrpcStatusException(GrpcStatusCode.Unimplemented, AdditionalData);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(probe);
        }
    }

    /// <summary>
    /// Takes one complete frame off the front of <paramref name="buffer"/>. Checks the prefix as
    /// soon as its 5 bytes are there, so an oversized or compressed message fails before its body
    /// is waited for.
    /// </summary>
    /// <param name="buffer">The buffered bytes; on success, sliced to what follows the frame.</param>
    /// <param name="options">Limits.</param>
    /// <param name="payload">The message bytes, pointing into <paramref name="buffer"/>.</param>
    /// <returns><see langword="false"/> when the frame is not complete yet.</returns>
    internal static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, GrpcMessageReadOptions options, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        int length;
        if (buffer.FirstSpan.Length >= HeaderSize)
        {
            length = ReadHeader(buffer.FirstSpan[..HeaderSize], options);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            buffer.Slice(0, HeaderSize).CopyTo(header);
            length = ReadHeader(header, options);
        }

        if (buffer.Length - HeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>
    /// Like <see cref="TryReadFrame"/>, for a buffer whose prefix may be invalid: false instead of
    /// an exception when the frame is incomplete or its prefix is not accepted.
    /// </summary>
    private static bool TryPeekFrame(ReadOnlySequence<byte> buffer, GrpcMessageReadOptions options, out ReadOnlySequence<byte> payload, out SequencePosition frameEnd)
    {
        payload = default;
        frameEnd = default;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length < HeaderSize || first[0] != 0)
        {
            return false; // short, split or compressed prefixes take the asynchronous path
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(first[1..HeaderSize]);
        if (length > (uint)options.MaxMessageSize || buffer.Length - HeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(HeaderSize, length);
        frameEnd = payload.End;
        return true;
    }

    /// <summary>Validates a 5-byte prefix and returns the message length it announces.</summary>
    /// <param name="header">The 5 prefix bytes.</param>
    /// <param name="options">Limits and the peer's <c>grpc-encoding</c>.</param>
    /// <returns>The message length, at most <see cref="GrpcMessageReadOptions.MaxMessageSize"/>.</returns>
    internal static int ReadHeader(ReadOnlySpan<byte> header, GrpcMessageReadOptions options)
    {
        switch (header[0])
        {
            case 0:
                break;
            case 1:
                throw CompressedMessageError(options.MessageEncoding);
            default:
                throw new GrpcStatusException(GrpcStatusCode.Internal, InvalidCompressedFlag);
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..HeaderSize]);
        return length > (uint)options.MaxMessageSize
            ? throw new GrpcStatusException(GrpcStatusCode.ResourceExhausted, MessageTooLarge)
            : (int)length;
    }

    private static GrpcStatusException CompressedMessageError(string? encoding)
    {
        encoding = encoding?.Trim();
        if (string.IsNullOrEmpty(encoding))
        {
            return new GrpcStatusException(GrpcStatusCode.Internal, CompressedWithoutEncoding);
        }

        if (string.Equals(encoding, GrpcHeaders.IdentityEncoding, StringComparison.OrdinalIgnoreCase))
        {
            return new GrpcStatusException(GrpcStatusCode.Internal, CompressedWithIdentity);
        }

        return new GrpcStatusException(
            GrpcStatusCode.Unimplemented,
            $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: {GrpcHeaders.IdentityEncoding}");
    }

    private static void WriteHeader(Span<byte> destination, int length)
    {
        destination[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..HeaderSize], (uint)length);
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new GrpcStatusException(GrpcStatusCode.Internal, DeserializeFailed, errorInfo: null, e);
        }
    }
}
