using System.Net;
using FiberManager.Protocol;
using System.IO.Compression;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests;

/// <summary>One service with a small message limit (4 KiB), shared by the bad-input tests.</summary>
public sealed class SmallLimitServiceFixture : IAsyncLifetime
{
    public const int MaxMessageSize = 4096;

    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["FiberManager:Server:MaxMessageSize"] = MaxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>
/// Malformed calls over the wire: each gets its exact gRPC status (or HTTP answer), and the
/// service keeps serving afterwards.
/// </summary>
public sealed class BadInputTests(SmallLimitServiceFixture fixture) : IClassFixture<SmallLimitServiceFixture>
{
    private ServiceHost Host => fixture.Host;

    private RawGrpcClient Raw => fixture.Host.Raw;

    private static string NewId() => "hard-" + Guid.NewGuid().ToString("N");

    private static V1.StartRequest Echo(string? id = null) => new() { FiberId = id ?? NewId(), Workflow = "echo" };

    /// <summary>A following Start and GetStatus succeed over the normal client.</summary>
    private async Task AssertHealthyAsync()
    {
        var id = NewId();
        var started = await Host.Client.StartAsync(id, "echo").DefaultTimeout();
        Assert.True(started.Created);
        var status = await Host.Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(id, status.FiberId);
        await Host.Client.InterruptAsync(id).DefaultTimeout();
    }

    /// <summary>
    /// A message protobuf cannot decode: grpc-dotnet reports the parser's exception as UNKNOWN
    /// (the hand-made layer answered INTERNAL "Failed to deserialize the message.").
    /// </summary>
    private Task AssertUndecodableAsync(RawResult result) => AssertStatusAsync(result, StatusCode.Unknown);

    private async Task AssertStatusAsync(RawResult result, StatusCode expected, string? reason = null)
    {
        Assert.True(result.HttpStatus == HttpStatusCode.OK && result.Status == expected, $"expected {expected}, got {result}");
        if (reason is not null)
        {
            Assert.Equal(reason, result.Reason);
        }

        await AssertHealthyAsync();
    }

    [Theory]
    [InlineData(new byte[] { 0 })]
    [InlineData(new byte[] { 0, 0, 0 })]
    [InlineData(new byte[] { 0, 0, 0, 0 })]
    public async Task TruncatedPrefix_Internal(byte[] body) =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, body), StatusCode.Internal);

    [Fact]
    public async Task TruncatedMessage_Internal()
    {
        var frame = RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "abcdef" });
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, frame[..^3]);
        await AssertStatusAsync(result, StatusCode.Internal);
        Assert.Equal("Incomplete message.", result.Message);
    }

    [Fact]
    public async Task LengthPrefixLargerThanBody_Internal()
    {
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame([0x0A, 0x01, 0x61], declaredLength: 100));
        await AssertStatusAsync(result, StatusCode.Internal);
        Assert.Equal("Incomplete message.", result.Message);
    }

    [Theory]
    [InlineData(SmallLimitServiceFixture.MaxMessageSize + 1u)]
    [InlineData(0x7FFFFFFFu)]
    public async Task LengthPrefixAboveMaxMessageSize_ResourceExhausted(uint declared)
    {
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame([0x0A, 0x01, 0x61], declaredLength: declared));
        await AssertStatusAsync(result, StatusCode.ResourceExhausted);
        Assert.Equal("Received message exceeds the maximum configured message size.", result.Message);
    }

    /// <summary>
    /// A length prefix of 2 GiB or more is not a length grpc-dotnet reads (it holds message
    /// lengths as <see cref="int"/>): it reports the malformed prefix as UNKNOWN (the hand-made
    /// layer answered RESOURCE_EXHAUSTED). Nothing is buffered either way.
    /// </summary>
    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(0x80000000u)]
    public async Task LengthPrefixOf2GiBOrMore_Unknown(uint declared) =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame([0x0A, 0x01, 0x61], declaredLength: declared)), StatusCode.Unknown);

    [Fact]
    public async Task OversizedPayload_ResourceExhausted()
    {
        var id = NewId();
        await Host.Client.StartAsync(id, "echo").DefaultTimeout();
        var submit = new V1.SubmitRequest { FiberId = id, Input = new V1.Payload { Binary = ByteString.CopyFrom(new byte[SmallLimitServiceFixture.MaxMessageSize]) } };
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.SubmitPath, submit), StatusCode.ResourceExhausted);
        Assert.Equal(0UL, (await Host.Client.GetStatusAsync(id).DefaultTimeout()).InputsAccepted);
    }

    /// <summary>An encoding grpc-dotnet does not support: UNIMPLEMENTED naming it.</summary>
    [Theory]
    [InlineData("snappy")]
    [InlineData("br")]
    public async Task CompressedFlagWithUnknownEncoding_Unimplemented(string encoding)
    {
        var body = RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" }.ToByteArray(), flag: 1);
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, body, r => r.Headers.TryAddWithoutValidation("grpc-encoding", encoding));
        await AssertStatusAsync(result, StatusCode.Unimplemented);
        Assert.Contains(encoding, result.Message, StringComparison.Ordinal);
    }

    /// <summary>gzip and deflate are supported by grpc-dotnet (the hand-made layer answered UNIMPLEMENTED): a compressed request is served.</summary>
    [Theory]
    [InlineData("gzip")]
    [InlineData("deflate")]
    public async Task CompressedRequest_SupportedEncoding_Served(string encoding)
    {
        var id = NewId();
        using var compressed = new MemoryStream();
        using (Stream compressor = encoding == "gzip" ? new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true) : new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            Echo(id).WriteTo(compressor);
        }

        var result = await Raw.CallAsync(RawGrpcClient.StartPath, RawGrpcClient.Frame(compressed.ToArray(), flag: 1), r => r.Headers.TryAddWithoutValidation("grpc-encoding", encoding));
        await AssertStatusAsync(result, StatusCode.OK);
        Assert.Equal(id, (await Host.Client.GetStatusAsync(id).DefaultTimeout()).FiberId);
    }

    /// <summary>Bytes flagged as gzip-compressed that do not decompress: grpc-dotnet answers UNKNOWN, like any undecodable message.</summary>
    [Fact]
    public async Task CompressedFlagWithGzipButNotCompressed_Unknown()
    {
        var body = RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" }.ToByteArray(), flag: 1);
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, body, r => r.Headers.TryAddWithoutValidation("grpc-encoding", "gzip"));
        await AssertStatusAsync(result, StatusCode.Unknown);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("identity")]
    public async Task CompressedFlagWithoutEncoding_Internal(string? encoding)
    {
        var body = RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" }.ToByteArray(), flag: 1);
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, body, r =>
        {
            if (encoding is not null)
            {
                r.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
            }
        });
        await AssertStatusAsync(result, StatusCode.Internal);
    }

    /// <summary>A compressed flag other than 0 or 1: grpc-dotnet reports the malformed prefix as UNKNOWN (the hand-made layer answered INTERNAL).</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(0x80)]
    [InlineData(0xFF)]
    public async Task UnknownCompressedFlagValue_Unknown(byte flag) =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame([0x0A, 0x01, 0x61], flag)), StatusCode.Unknown);

    [Theory]
    [InlineData(new byte[] { 0x0A, 0x05, 0x61 })] // string field longer than the message
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })] // malformed varint tag
    [InlineData(new byte[] { 0x00 })] // tag 0
    [InlineData(new byte[] { 0x0F })] // wire type 7
    public async Task InvalidProtobuf_Unknown(byte[] message) =>
        await AssertUndecodableAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame(message)));

    /// <summary>
    /// Protobuf rejects invalid UTF-8 in a proto3 string field (Google.Protobuf 3.36 does, as the
    /// proto3 language guide requires): the message is undecodable, answered like any other
    /// undecodable message, never passed on to be read as a mangled fiber id.
    /// </summary>
    [Fact]
    public async Task FiberIdNotUtf8_UndecodableMessage() =>
        await AssertUndecodableAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame([0x0A, 0x02, 0xC3, 0x28])));

    /// <summary>grpc-dotnet's answer: INTERNAL (the hand-made layer answered UNIMPLEMENTED).</summary>
    [Fact]
    public async Task NoMessage_Internal() =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, []), StatusCode.Internal);

    /// <summary>grpc-dotnet's answer: INTERNAL (the hand-made layer answered UNIMPLEMENTED).</summary>
    [Fact]
    public async Task TwoMessagesOnAUnaryCall_Internal()
    {
        var frame = RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" });
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, [.. frame, .. frame]), StatusCode.Internal);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("application/grpc-web")]
    public async Task WrongContentType_Http415(string contentType)
    {
        var result = await Raw.CallAsync(RawGrpcClient.GetStatusPath, RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" }), r =>
            r.Content!.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, result.HttpStatus);
        Assert.Equal(StatusCode.Internal, result.Status);
        await AssertHealthyAsync();
    }

    /// <summary>
    /// The cleartext endpoint speaks HTTP/2 only (prior knowledge). An HTTP/1.1 request is not
    /// a valid HTTP/2 connection preface: Kestrel closes the connection (it answers with an HTTP/2
    /// GOAWAY the HTTP/1.1 client cannot read), so the client sees the request fail, never a response.
    /// </summary>
    [Fact]
    public async Task Http11_ConnectionRefusedAndServiceKeepsServing()
    {
        using var http11 = new HttpClient { Timeout = TestTimeouts.Default };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Address, RawGrpcClient.GetStatusPath))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpcClient.Frame(new V1.GetStatusRequest { FiberId = "x" })),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        HttpStatusCode? answer = null;
        try
        {
            using var response = await http11.SendAsync(request);
            answer = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            // the connection was closed without an HTTP/1.1 answer
        }

        Assert.Equal(HttpStatusCode.BadRequest, answer);
        await AssertHealthyAsync();
    }

    [Theory]
    [InlineData("/fibermanager.v1.NoSuchService/Start")]
    [InlineData("/fibermanager.v1.FiberManager/NoSuchMethod")]
    [InlineData("/a/b/c")]
    [InlineData("/")]
    public async Task UnknownServiceOrMethod_Unimplemented(string path) =>
        await AssertStatusAsync(await Raw.CallAsync(path, new V1.GetStatusRequest { FiberId = "x" }), StatusCode.Unimplemented);

    /// <summary>
    /// grpc-dotnet routes with ASP.NET Core routing, which matches paths case-insensitively: a
    /// method name in the wrong case reaches the method (the hand-made layer answered
    /// UNIMPLEMENTED). Here the GetStatusRequest body reads as a StartRequest without a workflow.
    /// </summary>
    [Fact]
    public async Task MethodNameInAnotherCase_RoutedToTheMethod() =>
        await AssertStatusAsync(
            await Raw.CallAsync("/fibermanager.v1.FiberManager/start", new V1.GetStatusRequest { FiberId = NewId() }),
            StatusCode.NotFound,
            ErrorReasons.WorkflowNotFound);

    public static TheoryData<string> BadIds() => new()
    {
        new string('a', 129),
        new string('a', 100_000 / 50),
        "",
        "bad\nid",
        "bad\0id",
        "tab\tid",
        "del\u007Fid",
        "caf\u00E9",
        "\u6F22\u5B57",
        "emoji\U0001F600",
        "space id",
        "slash/id",
        "a\u200Bb",
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task Start_BadFiberId_InvalidFiberId(string id) =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, Echo(id)), StatusCode.InvalidArgument, ErrorReasons.InvalidFiberId);

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task GetStatus_BadFiberId_InvalidFiberId(string id) =>
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.GetStatusPath, new V1.GetStatusRequest { FiberId = id }), StatusCode.InvalidArgument, ErrorReasons.InvalidFiberId);

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task Submit_BadFiberId_InvalidFiberId(string id) =>
        await AssertStatusAsync(
            await Raw.CallAsync(RawGrpcClient.SubmitPath, new V1.SubmitRequest { FiberId = id, Input = new V1.Payload { Json = Value.ForNumber(1) } }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidFiberId);

    [Fact]
    public async Task TooManyLabels_InvalidArgument()
    {
        var request = Echo();
        for (int i = 0; i < 33; i++)
        {
            request.Labels[$"k{i}"] = "v";
        }

        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Theory]
    [InlineData(64, 1)]
    [InlineData(1, 257)]
    [InlineData(0, 1)]
    public async Task LabelTooLong_InvalidArgument(int keyLength, int valueLength)
    {
        var request = Echo();
        request.Labels[new string('k', keyLength)] = new string('v', valueLength);
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Theory]
    [InlineData(4_000_000_000u)]
    [InlineData(uint.MaxValue)]
    [InlineData(65_537u)]
    public async Task AbsurdInputCapacity_InvalidArgument(uint capacity)
    {
        var request = Echo();
        request.InputCapacity = capacity;
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task UnknownConflictPolicy_InvalidArgument()
    {
        var request = Echo();
        request.ConflictPolicy = (V1.ConflictPolicy)99;
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task UnknownAdmissionPolicy_InvalidArgument()
    {
        var request = Echo();
        request.Admission = (V1.AdmissionPolicy)(-5);
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task UnknownRestartMode_InvalidArgument()
    {
        var request = Echo();
        request.RestartPolicy = new V1.RestartPolicy { Mode = (V1.RestartMode)7 };
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task UnknownQueueFullPolicy_InvalidArgument()
    {
        var id = NewId();
        await Host.Client.StartAsync(id, "echo").DefaultTimeout();
        var request = new V1.SubmitRequest { FiberId = id, Input = new V1.Payload { Json = Value.ForNumber(1) }, QueueFullPolicy = (V1.QueueFullPolicy)42 };
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.SubmitPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task UnknownStatusFilter_InvalidArgument()
    {
        var request = new V1.ListFibersRequest();
        request.Statuses.Add((V1.FiberStatus)1234);
        await AssertStatusAsync(await Raw.CallAsync("/fibermanager.v1.FiberManager/ListFibers", request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task NegativePermitTimeout_InvalidArgument()
    {
        var request = Echo();
        request.PermitTimeout = new Duration { Seconds = -1 };
        await AssertStatusAsync(await Raw.CallAsync(RawGrpcClient.StartPath, request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
    }

    /// <summary>99,999,999 hours (the largest the header can say, ~11,400 years) is a valid, effectively infinite deadline: the call succeeds.</summary>
    [Fact]
    public async Task GrpcTimeout_Max_CallSucceeds()
    {
        var result = await Raw.CallAsync(RawGrpcClient.StartPath, Echo(), r => r.Headers.TryAddWithoutValidation("grpc-timeout", "99999999H"));
        await AssertStatusAsync(result, StatusCode.OK);
    }

    /// <summary>A malformed grpc-timeout has no meaning in the spec: it is ignored (no deadline) and the call succeeds.</summary>
    [Theory]
    [InlineData("abc")]
    [InlineData("-1S")]
    [InlineData("1")]
    [InlineData("123456789S")]
    [InlineData("5 S")]
    [InlineData("5X")]
    public async Task GrpcTimeout_Malformed_IgnoredCallSucceeds(string timeout)
    {
        var result = await Raw.CallAsync(RawGrpcClient.StartPath, Echo(), r => r.Headers.TryAddWithoutValidation("grpc-timeout", timeout));
        await AssertStatusAsync(result, StatusCode.OK);
    }

    /// <summary>
    /// grpc-dotnet ignores a zero <c>grpc-timeout</c> (no deadline; the hand-made layer answered
    /// DEADLINE_EXCEEDED): the call is served like one without the header.
    /// </summary>
    [Theory]
    [InlineData("0S")]
    [InlineData("0n")]
    public async Task GrpcTimeout_Zero_IgnoredCallSucceeds(string timeout)
    {
        var request = Echo();
        var result = await Raw.CallAsync(RawGrpcClient.StartPath, request, r => r.Headers.TryAddWithoutValidation("grpc-timeout", timeout));
        await AssertStatusAsync(result, StatusCode.OK);
        Assert.Equal(request.FiberId, (await Host.Client.GetStatusAsync(request.FiberId).DefaultTimeout()).FiberId);
    }
}
