using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace FiberManager.Protocol.Tests;

public class GrpcStatusDetailsTests
{
    private static ErrorInfo QueueFull() => new()
    {
        Reason = ErrorReasons.InputQueueFull,
        Domain = ErrorReasons.Domain,
        Metadata = { [ErrorMetadataKeys.FiberId] = "chat-42", [ErrorMetadataKeys.QueueDepth] = "64" },
    };

    [Fact]
    public void EncodeThenDecode_StatusWithErrorInfo_RoundTrips()
    {
        string value = GrpcStatusDetails.Encode(GrpcStatusCode.ResourceExhausted, "Input queue of 'chat-42' is full (64/64).", QueueFull());

        Assert.True(GrpcStatusDetails.TryDecode(value, out Google.Rpc.Status? status));
        Assert.Equal((int)GrpcStatusCode.ResourceExhausted, status.Code);
        Assert.Equal("Input queue of 'chat-42' is full (64/64).", status.Message);
        Any detail = Assert.Single(status.Details);
        Assert.Equal("type.googleapis.com/google.rpc.ErrorInfo", detail.TypeUrl);
        Assert.Equal(QueueFull(), GrpcStatusDetails.FindErrorInfo(status));
    }

    [Fact]
    public void Encode_WithoutErrorInfo_HasNoDetails()
    {
        string value = GrpcStatusDetails.Encode(GrpcStatusCode.Internal, "boom", errorInfo: null);

        Assert.True(GrpcStatusDetails.TryDecode(value, out Google.Rpc.Status? status));
        Assert.Empty(status.Details);
        Assert.Null(GrpcStatusDetails.FindErrorInfo(status));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("ab")]
    [InlineData("abc")]
    [InlineData("non-ASCII message: café")]
    public void Encode_IsUnpaddedBase64_AndPaddedFormDecodesToo(string message)
    {
        var status = new Google.Rpc.Status { Code = 5, Message = message };
        string unpadded = GrpcStatusDetails.Encode(status);
        string padded = Convert.ToBase64String(status.ToByteArray());

        Assert.DoesNotContain('=', unpadded);
        Assert.Equal(padded.TrimEnd('='), unpadded);
        Assert.True(GrpcStatusDetails.TryDecode(padded, out Google.Rpc.Status? fromPadded));
        Assert.Equal(status, fromPadded);
        if (unpadded.Length > 0)
        {
            Assert.True(GrpcStatusDetails.TryDecode(unpadded, out Google.Rpc.Status? fromUnpadded));
            Assert.Equal(status, fromUnpadded);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!!!!")]
    [InlineData("abcde")] // 4k + 1 characters: never base64
    [InlineData("/w")] // 0xFF: a tag with wire type 7, not a protobuf message
    public void TryDecode_NotAStatus_False(string? value)
    {
        Assert.False(GrpcStatusDetails.TryDecode(value, out Google.Rpc.Status? status));
        Assert.Null(status);
    }

    [Fact]
    public void FindErrorInfo_SkipsOtherDetails()
    {
        var status = new Google.Rpc.Status { Code = 8 };
        status.Details.Add(Any.Pack(new Duration { Seconds = 3 }));
        status.Details.Add(Any.Pack(QueueFull()));

        Assert.Equal(QueueFull(), GrpcStatusDetails.FindErrorInfo(status));
    }

    [Fact]
    public void FindErrorInfo_MalformedErrorInfo_Null()
    {
        var status = new Google.Rpc.Status { Code = 8 };
        status.Details.Add(new Any { TypeUrl = "type.googleapis.com/google.rpc.ErrorInfo", Value = ByteString.CopyFrom(0xFF) });

        Assert.Null(GrpcStatusDetails.FindErrorInfo(status));
    }
}

public class GrpcStatusExceptionTests
{
    [Fact]
    public void WithReason_BuildsErrorInfoInTheFiberManagerDomain()
    {
        var e = GrpcStatusException.WithReason(
            GrpcStatusCode.NotFound,
            ErrorReasons.FiberNotFound,
            "No fiber 'chat-42'.",
            new Dictionary<string, string> { [ErrorMetadataKeys.FiberId] = "chat-42" });

        Assert.Equal(GrpcStatusCode.NotFound, e.StatusCode);
        Assert.Equal("No fiber 'chat-42'.", e.Detail);
        Assert.Equal(ErrorReasons.FiberNotFound, e.Reason);
        Assert.NotNull(e.ErrorInfo);
        Assert.Equal(ErrorReasons.Domain, e.ErrorInfo.Domain);
        Assert.Equal("chat-42", e.ErrorInfo.Metadata[ErrorMetadataKeys.FiberId]);
        Assert.Equal("Status(StatusCode=\"NotFound\", Detail=\"No fiber 'chat-42'.\", Reason=\"FIBER_NOT_FOUND\")", e.Message);
    }

    [Fact]
    public void Constructor_WithoutReason_HasNoErrorInfo()
    {
        var inner = new InvalidOperationException("inner");
        var e = new GrpcStatusException(GrpcStatusCode.Internal, "Incomplete message.", errorInfo: null, inner);

        Assert.Null(e.ErrorInfo);
        Assert.Null(e.Reason);
        Assert.Same(inner, e.InnerException);
        Assert.Equal("Status(StatusCode=\"Internal\", Detail=\"Incomplete message.\")", e.Message);
    }

    [Fact]
    public void WithReason_EmptyReason_Throws()
    {
        Assert.Throws<ArgumentException>(() => GrpcStatusException.WithReason(GrpcStatusCode.NotFound, "", "x"));
    }

    [Fact]
    public void ServerTrailersToClientException_RoundTrips()
    {
        var thrown = GrpcStatusException.WithReason(
            GrpcStatusCode.FailedPrecondition,
            ErrorReasons.FiberPaused,
            "Fiber 'café-1' is paused: 100% of inputs rejected.",
            new Dictionary<string, string> { [ErrorMetadataKeys.FiberId] = "café-1" });

        // What the service writes ...
        string status = GrpcHeaders.FormatStatusCode(thrown.StatusCode);
        string message = GrpcStatusMessage.Encode(thrown.Detail);
        string details = GrpcStatusDetails.Encode(thrown.StatusCode, thrown.Detail, thrown.ErrorInfo);

        // ... is what the client rebuilds.
        Assert.True(GrpcHeaders.TryParseStatusCode(status, out GrpcStatusCode code));
        GrpcStatusException received = GrpcStatusException.FromStatusHeaders(code, message, details);

        Assert.Equal(thrown.StatusCode, received.StatusCode);
        Assert.Equal(thrown.Detail, received.Detail);
        Assert.Equal(thrown.ErrorInfo, received.ErrorInfo);
    }

    [Fact]
    public void FromStatusHeaders_NoGrpcMessage_UsesTheMessageInTheDetails()
    {
        string details = GrpcStatusDetails.Encode(GrpcStatusCode.Unavailable, "Shutting down.", errorInfo: null);

        GrpcStatusException e = GrpcStatusException.FromStatusHeaders(GrpcStatusCode.Unavailable, grpcMessage: null, details);

        Assert.Equal("Shutting down.", e.Detail);
        Assert.Null(e.ErrorInfo);
    }

    [Fact]
    public void FromStatusHeaders_UnreadableDetails_KeepsTheStatus()
    {
        GrpcStatusException e = GrpcStatusException.FromStatusHeaders(GrpcStatusCode.Internal, "a%20b", "!!!!");

        Assert.Equal(GrpcStatusCode.Internal, e.StatusCode);
        Assert.Equal("a b", e.Detail);
        Assert.Null(e.ErrorInfo);
    }

    [Fact]
    public void FromStatusHeaders_NothingButTheCode_EmptyDetail()
    {
        GrpcStatusException e = GrpcStatusException.FromStatusHeaders(GrpcStatusCode.Unknown, null, null);

        Assert.Equal(string.Empty, e.Detail);
    }
}
