using System.Net;
using System.Text;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Service.Tests;

/// <summary>Requests the typed client never sends, over a raw HTTP/2 connection; after each, good calls still work.</summary>
public sealed class WireTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>, IDisposable
{
    private const string Service = "/fibermanager.v1.FiberManager/";
    private readonly RawGrpcClient _raw = new(fixture.Host.Address);

    private FiberManagerClient Client => fixture.Host.Client;

    public void Dispose() => _raw.Dispose();

    /// <summary>A good call on the same raw connection and one through the typed client.</summary>
    private async Task AssertStillServingAsync()
    {
        var response = await _raw.PostAsync(Service + "ListWorkflows", RawGrpcClient.Frame(new ListWorkflowsRequest()));
        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.False(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
        Assert.Contains(response.Single(ListWorkflowsResponse.Parser).Workflows, w => w.Name == "echo");
        Assert.NotEmpty(await Client.ListWorkflowsAsync().DefaultTimeout());
    }

    [Fact]
    public async Task UnaryCall_RawFrames_OkInTrailersWithOneMessage()
    {
        var id = Ids.New("wire-ok");
        var response = await _raw.PostAsync(Service + "Start", RawGrpcClient.Frame(new StartRequest { FiberId = id, Workflow = "echo" }));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.Equal(GrpcHeaders.ContentTypeGrpc, response.ContentType);
        Assert.False(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
        Assert.Equal(id, response.Single(StartResponse.Parser).Fiber.FiberId);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task ErrorBeforeAnyMessage_TrailersOnlyWithStatusDetails()
    {
        var id = Ids.New("wire-missing");
        var response = await _raw.PostAsync(Service + "GetStatus", RawGrpcClient.Frame(new GetStatusRequest { FiberId = id }));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Empty(response.Body);
        Assert.Equal(GrpcStatusCode.NotFound, response.Status);
        Assert.Contains(id, response.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorReasons.FiberNotFound, response.ErrorInfo?.Reason);
        Assert.Equal(ErrorReasons.Domain, response.ErrorInfo?.Domain);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task UnknownMethod_UnimplementedTrailersOnly()
    {
        var response = await _raw.PostAsync(Service + "NoSuchMethod", RawGrpcClient.Frame(new Empty()));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Empty(response.Body);
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        Assert.Contains("NoSuchMethod", response.Message, StringComparison.Ordinal);
        Assert.Null(response.ErrorInfo);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task UnknownService_UnimplementedTrailersOnly()
    {
        var response = await _raw.PostAsync("/no.such.Service/Method", RawGrpcClient.Frame(new Empty()));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        Assert.Contains("no.such.Service", response.Message, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    [InlineData("application/grpc-web")]
    [InlineData(null)]
    public async Task WrongContentType_Http415(string? contentType)
    {
        var response = await _raw.PostAsync(Service + "ListWorkflows", RawGrpcClient.Frame(new ListWorkflowsRequest()), contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.HttpStatus);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GrpcProtoContentType_Accepted()
    {
        var response = await _raw.PostAsync(Service + "ListWorkflows", RawGrpcClient.Frame(new ListWorkflowsRequest()), "application/grpc+proto");
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
    }

    [Fact]
    public async Task LengthPrefixAboveMaxMessageSize_ResourceExhausted()
    {
        // Only the 5-byte prefix announcing 5 MiB (the limit is 4 MiB): rejected before buffering anything.
        var response = await _raw.PostAsync(Service + "Submit", RawGrpcClient.Frame([], declaredLength: 5 * 1024 * 1024));

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.True(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.ResourceExhausted, response.Status);
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

        var response = await _raw.PostAsync(Service + "Submit", RawGrpcClient.Frame(request));
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task TruncatedFrame_Internal()
    {
        var frame = RawGrpcClient.Frame(new GetStatusRequest { FiberId = "some-fiber" });
        var response = await _raw.PostAsync(Service + "GetStatus", frame[..^3]);

        Assert.True(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
        Assert.Contains("Incomplete", response.Message, StringComparison.Ordinal);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task TruncatedPrefix_Internal()
    {
        var response = await _raw.PostAsync(Service + "GetStatus", [0, 0, 0]);
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task EmptyBodyForUnaryCall_Unimplemented()
    {
        var response = await _raw.PostAsync(Service + "GetStatus", []);
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task TwoMessagesForUnaryCall_Unimplemented()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest());
        var response = await _raw.PostAsync(Service + "ListWorkflows", [.. frame, .. frame]);
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GarbageMessageBytes_Internal()
    {
        var response = await _raw.PostAsync(Service + "GetStatus", RawGrpcClient.Frame([0xFF, 0xFF, 0xFF, 0xFF]));
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task CompressedFlagWithUnsupportedEncoding_UnimplementedNamingIdentity()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest(), flag: 1);
        var response = await _raw.PostAsync(Service + "ListWorkflows", frame, headers: new Dictionary<string, string> { [GrpcHeaders.Encoding] = "gzip" });

        Assert.True(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        Assert.Contains("gzip", response.Message, StringComparison.Ordinal);
        Assert.True(response.Headers.TryGetValues(GrpcHeaders.AcceptEncoding, out var accepted), "The server should advertise grpc-accept-encoding.");
        Assert.Contains(GrpcHeaders.IdentityEncoding, string.Join(",", accepted));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task CompressedFlagWithoutEncoding_Internal()
    {
        var frame = RawGrpcClient.Frame(new ListWorkflowsRequest(), flag: 1);
        var response = await _raw.PostAsync(Service + "ListWorkflows", frame);
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task GrpcTimeoutHeader_ReachesTheServerAndCancelsAWaitingSubmit()
    {
        var id = Ids.New("wire-deadline");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();

        // No client-side timer at all: only the header can end this call.
        var submit = RawGrpcClient.Frame(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)), QueueFullPolicy = QueueFullPolicy.Wait });
        var response = await _raw.PostAsync(Service + "Submit", submit, headers: new Dictionary<string, string> { [GrpcHeaders.Timeout] = "200m" });

        Assert.True(response.TrailersOnly);
        Assert.Equal(GrpcStatusCode.DeadlineExceeded, response.Status);
        Assert.Equal(ErrorReasons.DeadlineExceeded, response.ErrorInfo?.Reason);
        Assert.Equal(1UL, (await Client.GetStatusAsync(id).DefaultTimeout()).InputsAccepted);
        await Client.InterruptAsync(id).DefaultTimeout();
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task MalformedGrpcTimeoutHeader_TreatedAsNoDeadline()
    {
        var response = await _raw.PostAsync(Service + "ListWorkflows", RawGrpcClient.Frame(new ListWorkflowsRequest()), headers: new Dictionary<string, string> { [GrpcHeaders.Timeout] = "soon" });
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
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
        request.Content.Headers.TryAddWithoutValidation("content-type", GrpcHeaders.ContentTypeGrpc);
        using var response = await http11.SendAsync(request).DefaultTimeout();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await AssertStillServingAsync();
    }
}
