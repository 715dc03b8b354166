using System.IO.Compression;
using System.Net;
using System.Text;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>
/// Requests the typed client never sends, over a raw HTTP/2 connection; after each, good calls
/// still work. The wire is grpc-dotnet's: where it answers differently from the service's earlier
/// hand-made layer by design, the test asserts grpc-dotnet's standard answer.
/// </summary>
public sealed class WireTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>, IDisposable
{
    private const string Service = "/fibermanager.v1.FiberManager/";
    private readonly RawGrpcClient _raw = new(fixture.Host.Address);

    private FiberManagerClient Client => fixture.Host.Client;

    public void Dispose() => _raw.Dispose();

    /// <summary>A good call on the same raw connection and one through the typed client.</summary>
    private async Task AssertStillServingAsync()
    {
        var response = await _raw.CallAsync(Service + "ListWorkflows", new ListWorkflowsRequest());
        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.False(response.TrailersOnly);
        Assert.Equal(StatusCode.OK, response.Status);
        Assert.Contains(response.Single(ListWorkflowsResponse.Parser).Workflows, w => w.Name == "echo");
        Assert.NotEmpty(await Client.ListWorkflowsAsync().DefaultTimeout());
    }

    [Fact]
    public async Task UnaryCall_RawFrames_OkInTrailersWithOneMessage()
    {
        var id = Ids.New("wire-ok");
        var response = await _raw.CallAsync(Service + "Start", new StartRequest { FiberId = id, Workflow = "echo" });

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.Equal("application/grpc", response.ContentType);
        Assert.False(response.TrailersOnly);
        Assert.Equal(StatusCode.OK, response.Status);
        Assert.Equal(id, response.Single(StartResponse.Parser).Fiber.FiberId);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task ErrorBeforeAnyMessage_TrailersOnlyWithStatusDetails()
    {
        var id = Ids.New("wire-missing");
        var response = await _raw.CallAsync(Service + "GetStatus", new GetStatusRequest { FiberId = id });

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Empty(response.Body);
        Assert.Equal(StatusCode.NotFound, response.Status);
        Assert.Contains(id, response.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorReasons.FiberNotFound, response.ErrorInfo?.Reason);
        Assert.Equal(ErrorReasons.Domain, response.ErrorInfo?.Domain);
        await AssertStillServingAsync();
    }

    /// <summary>grpc-dotnet's answer: "Method is unimplemented." (the hand-made layer named the method).</summary>
    [Fact]
    public async Task UnknownMethod_UnimplementedTrailersOnly()
    {
        var response = await _raw.CallAsync(Service + "NoSuchMethod", new Empty());

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Empty(response.Body);
        Assert.Equal(StatusCode.Unimplemented, response.Status);
        Assert.Equal("Method is unimplemented.", response.Message);
        Assert.Null(response.ErrorInfo);
        await AssertStillServingAsync();
    }

    /// <summary>grpc-dotnet's answer: "Service is unimplemented." (the hand-made layer named the service).</summary>
    [Fact]
    public async Task UnknownService_UnimplementedTrailersOnly()
    {
        var response = await _raw.CallAsync("/no.such.Service/Method", new Empty());

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.Unimplemented, response.Status);
        Assert.Equal("Service is unimplemented.", response.Message);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task PathNoServiceCouldHave_UnimplementedTrailersOnly()
    {
        var response = await _raw.CallAsync("/a/b/c", new Empty());

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.Unimplemented, response.Status);
        Assert.Contains("/a/b/c", response.Message, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("application/grpc-web")]
    [InlineData(null)]
    public async Task WrongContentType_Http415(string? contentType)
    {
        var response = await _raw.CallAsync(Service + "ListWorkflows", new ListWorkflowsRequest(), r => SetContentType(r, contentType));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.HttpStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GrpcProtoContentType_Accepted()
    {
        var response = await _raw.CallAsync(Service + "ListWorkflows", new ListWorkflowsRequest(), r => SetContentType(r, "application/grpc+proto"));
        Assert.Equal(StatusCode.OK, response.Status);
    }

    [Fact]
    public async Task LengthPrefixAboveMaxMessageSize_ResourceExhausted()
    {
        // Only the 5-byte prefix announcing 5 MiB (the limit is 4 MiB): rejected before buffering anything.
        var response = await _raw.CallAsync(Service + "Submit", RawGrpcClient.Frame([], declaredLength: 5 * 1024 * 1024));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.ResourceExhausted, response.Status);
        Assert.Contains("maximum", response.Message, StringComparison.Ordinal);
        Assert.Null(response.ErrorInfo);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task MessageJustUnderMaxSize_Accepted()
    {
        var id = Ids.New("wire-large");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        var request = new SubmitRequest { FiberId = id, Input = new Payload { Binary = ByteString.CopyFrom(new byte[(4 * 1024 * 1024) - 200]) } };
        Assert.True(request.CalculateSize() <= 4 * 1024 * 1024);

        var response = await _raw.CallAsync(Service + "Submit", request);
        Assert.Equal(StatusCode.OK, response.Status);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task TruncatedFrame_Internal()
    {
        var frame = RawGrpcClient.Frame(new GetStatusRequest { FiberId = "some-fiber" });
        var response = await _raw.CallAsync(Service + "GetStatus", frame[..^3]);

        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.Internal, response.Status);
        Assert.Contains("Incomplete", response.Message, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task TruncatedPrefix_Internal()
    {
        var response = await _raw.CallAsync(Service + "GetStatus", [0, 0, 0]);
        Assert.Equal(StatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    /// <summary>grpc-dotnet's answer: INTERNAL (the hand-made layer answered UNIMPLEMENTED).</summary>
    [Fact]
    public async Task EmptyBodyForUnaryCall_Internal()
    {
        var response = await _raw.CallAsync(Service + "GetStatus", []);
        Assert.Equal(StatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    /// <summary>grpc-dotnet's answer: INTERNAL (the hand-made layer answered UNIMPLEMENTED).</summary>
    [Fact]
    public async Task TwoMessagesForUnaryCall_Internal()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest());
        var response = await _raw.CallAsync(Service + "ListWorkflows", [.. frame, .. frame]);
        Assert.Equal(StatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    /// <summary>A message protobuf cannot decode: grpc-dotnet answers UNKNOWN (the hand-made layer answered INTERNAL).</summary>
    [Fact]
    public async Task GarbageMessageBytes_Unknown()
    {
        var response = await _raw.CallAsync(Service + "GetStatus", RawGrpcClient.Frame([0xFF, 0xFF, 0xFF, 0xFF]));
        Assert.Equal(StatusCode.Unknown, response.Status);
        await AssertStillServingAsync();
    }

    /// <summary>An encoding the server does not support gets UNIMPLEMENTED naming it; grpc-accept-encoding lists what is supported.</summary>
    [Fact]
    public async Task CompressedWithUnsupportedEncoding_UnimplementedAndAcceptEncodingAdvertised()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest(), flag: 1);
        var response = await _raw.CallAsync(Service + "ListWorkflows", frame, r => r.Headers.TryAddWithoutValidation("grpc-encoding", "snappy"));

        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.Unimplemented, response.Status);
        Assert.Contains("snappy", response.Message, StringComparison.Ordinal);
        Assert.True(response.Headers.TryGetValues("grpc-accept-encoding", out var accepted), "The server should advertise grpc-accept-encoding.");
        Assert.Contains("identity", string.Join(",", accepted));
        Assert.Contains("gzip", string.Join(",", accepted));
        await AssertStillServingAsync();
    }

    /// <summary>grpc-dotnet accepts gzip-compressed requests (the hand-made layer answered UNIMPLEMENTED).</summary>
    [Fact]
    public async Task GzipCompressedRequest_Served()
    {
        var id = Ids.New("wire-gzip");
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            new StartRequest { FiberId = id, Workflow = "echo" }.WriteTo(gzip);
        }

        var response = await _raw.CallAsync(Service + "Start", RawGrpcClient.Frame(compressed.ToArray(), flag: 1), r => r.Headers.TryAddWithoutValidation("grpc-encoding", "gzip"));

        Assert.Equal(StatusCode.OK, response.Status);
        Assert.Equal(id, response.Single(StartResponse.Parser).Fiber.FiberId);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task CompressedFlagWithoutEncoding_Internal()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest(), flag: 1);
        var response = await _raw.CallAsync(Service + "ListWorkflows", frame);
        Assert.Equal(StatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    /// <summary>
    /// The deadline is grpc-dotnet's: it answers DEADLINE_EXCEEDED itself when the deadline
    /// passes, without an ErrorInfo (the hand-made layer added reason DEADLINE_EXCEEDED), and
    /// cancels the waiting Submit, which accepts nothing.
    /// </summary>
    [Fact]
    public async Task GrpcTimeoutHeader_ReachesTheServerAndCancelsAWaitingSubmit()
    {
        var id = Ids.New("wire-deadline");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();

        // No client-side timer at all: only the header can end this call.
        var submit = new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)), QueueFullPolicy = QueueFullPolicy.Wait };
        var response = await _raw.CallAsync(Service + "Submit", submit, r => r.Headers.TryAddWithoutValidation("grpc-timeout", "200m"));

        Assert.True(response.TrailersOnly);
        Assert.Equal(StatusCode.DeadlineExceeded, response.Status);
        Assert.Null(response.ErrorInfo);
        Assert.Equal(1UL, (await Client.GetStatusAsync(id).DefaultTimeout()).InputsAccepted);
        await Client.InterruptAsync(id).DefaultTimeout();
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task MalformedGrpcTimeoutHeader_TreatedAsNoDeadline()
    {
        var response = await _raw.CallAsync(Service + "ListWorkflows", new ListWorkflowsRequest(), r => r.Headers.TryAddWithoutValidation("grpc-timeout", "soon"));
        Assert.Equal(StatusCode.OK, response.Status);
    }

    [Fact]
    public async Task GetRoot_Http200PlainText()
    {
        var response = await _raw.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.StartsWith("text/plain", response.ContentType, StringComparison.Ordinal);
        Assert.Contains("gRPC", Encoding.UTF8.GetString(response.Body), StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GetOtherPath_Http404()
    {
        var response = await _raw.GetAsync("/favicon.ico");
        Assert.Equal(HttpStatusCode.NotFound, response.HttpStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task Http11Request_Http400NotServed()
    {
        // The cleartext listener speaks HTTP/2 only (h2c); Kestrel answers HTTP/1.1 with 400.
        using var http11 = new HttpClient { BaseAddress = fixture.Host.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, Service + "ListWorkflows")
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpcClient.Frame(new ListWorkflowsRequest())),
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        using var response = await http11.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertStillServingAsync();
    }

    private static void SetContentType(HttpRequestMessage request, string? contentType)
    {
        request.Content!.Headers.Remove("content-type");
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("content-type", contentType);
        }
    }
}
