using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Benchmarks;

/// <summary>
/// gRPC framing of a SubmitRequest: 5-byte prefix (flag, big-endian length) + protobuf.
/// Framed here with Google.Protobuf directly: GrpcMessageFraming (FiberManager.Protocol) was not
/// yet tracked on this branch when these benchmarks were written.
/// </summary>
public class FramingBenchmarks
{
    private const int HeaderSize = 5;
    private readonly ArrayBufferWriter<byte> _writer = new(1024);
    private SubmitRequest _request = null!;
    private byte[] _frame = null!;

    [GlobalSetup]
    public void Setup()
    {
        _request = new SubmitRequest { FiberId = "fiber-42", Input = new Payload { Json = Value.ForString("hello, fiber") } };
        _writer.Clear();
        Encode(_writer, _request);
        _frame = _writer.WrittenSpan.ToArray();
    }

    /// <summary>Prefix + message into a reused buffer writer.</summary>
    [Benchmark]
    public int Encode()
    {
        _writer.ResetWrittenCount();
        Encode(_writer, _request);
        return _writer.WrittenCount;
    }

    /// <summary>Read the prefix, check it, parse the message.</summary>
    [Benchmark]
    public SubmitRequest Decode()
    {
        var span = _frame.AsSpan();
        if (span[0] != 0)
        {
            throw new InvalidDataException("compressed");
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(span[1..HeaderSize]);
        return SubmitRequest.Parser.ParseFrom(span.Slice(HeaderSize, (int)length));
    }

    /// <summary>A binary payload message (no JSON Value tree).</summary>
    [Benchmark]
    public SubmitRequest DecodeBinaryPayload() => SubmitRequest.Parser.ParseFrom(s_binaryRequest);

    private static readonly byte[] s_binaryRequest =
        new SubmitRequest { FiberId = "fiber-42", Input = new Payload { Binary = ByteString.CopyFromUtf8("hello, fiber") } }.ToByteArray();

    private static void Encode(IBufferWriter<byte> writer, IMessage message)
    {
        var size = message.CalculateSize();
        var span = writer.GetSpan(HeaderSize + size);
        span[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..HeaderSize], (uint)size);
        message.WriteTo(span.Slice(HeaderSize, size));
        writer.Advance(HeaderSize + size);
    }
}
