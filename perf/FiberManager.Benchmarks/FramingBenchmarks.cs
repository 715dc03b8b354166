using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Benchmarks;

/// <summary>
/// gRPC framing of a SubmitRequest (5-byte prefix + protobuf): FiberManager.Protocol's
/// <see cref="GrpcMessageFraming"/> (what the service runs per call) beside the same work done
/// with Google.Protobuf directly (the floor).
/// </summary>
public class FramingBenchmarks
{
    private const int HeaderSize = 5;
    private static readonly GrpcMessageReadOptions s_readOptions = new() { MaxMessageSize = 4 * 1024 * 1024 };
    private readonly ArrayBufferWriter<byte> _writer = new(1024);
    private SubmitRequest _request = null!;
    private byte[] _frame = null!;
    private byte[] _binaryFrame = null!;

    [GlobalSetup]
    public void Setup()
    {
        _request = new SubmitRequest { FiberId = "fiber-42", Input = new Payload { Json = Value.ForString("hello, fiber") } };
        _frame = Frame(_request);
        _binaryFrame = Frame(new SubmitRequest { FiberId = "fiber-42", Input = new Payload { Binary = ByteString.CopyFromUtf8("hello, fiber") } });
    }

    /// <summary>GrpcMessageFraming.WriteMessage into a reused buffer writer.</summary>
    [Benchmark]
    public int EncodeWithFraming()
    {
        _writer.ResetWrittenCount();
        GrpcMessageFraming.WriteMessage(_writer, _request);
        return _writer.WrittenCount;
    }

    /// <summary>The same prefix + message written with Google.Protobuf directly.</summary>
    [Benchmark(Baseline = true)]
    public int EncodeDirect()
    {
        _writer.ResetWrittenCount();
        var size = _request.CalculateSize();
        var span = _writer.GetSpan(HeaderSize + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..HeaderSize], (uint)size);
        _request.WriteTo(span.Slice(HeaderSize, size));
        _writer.Advance(HeaderSize + size);
        return _writer.WrittenCount;
    }

    /// <summary>GrpcMessageFraming.ReadSingleMessageAsync over a PipeReader (as on the server's request body).</summary>
    [Benchmark]
    public async Task<SubmitRequest> DecodeWithFraming()
    {
        var reader = PipeReader.Create(new ReadOnlySequence<byte>(_frame));
        return await GrpcMessageFraming.ReadSingleMessageAsync(reader, SubmitRequest.Parser, s_readOptions).ConfigureAwait(false);
    }

    /// <summary>Read the prefix, check it, parse the message with Google.Protobuf directly.</summary>
    [Benchmark]
    public SubmitRequest DecodeDirect()
    {
        var span = _frame.AsSpan();
        var length = BinaryPrimitives.ReadUInt32BigEndian(span[1..HeaderSize]);
        return SubmitRequest.Parser.ParseFrom(span.Slice(HeaderSize, (int)length));
    }

    /// <summary>A binary payload instead of a JSON value (no Value tree to build).</summary>
    [Benchmark]
    public SubmitRequest DecodeDirectBinaryPayload()
    {
        var span = _binaryFrame.AsSpan();
        var length = BinaryPrimitives.ReadUInt32BigEndian(span[1..HeaderSize]);
        return SubmitRequest.Parser.ParseFrom(span.Slice(HeaderSize, (int)length));
    }

    private static byte[] Frame(IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcMessageFraming.WriteMessage(writer, message);
        return writer.WrittenSpan.ToArray();
    }
}
