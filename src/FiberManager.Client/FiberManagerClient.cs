using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Client;

/// <summary>
/// The typed .NET client of <c>fibermanager.v1.FiberManager</c>. Thread-safe; keep one per
/// service address (it reuses its HTTP/2 connections). Failures throw
/// <see cref="GrpcStatusException"/> with <see cref="GrpcStatusException.StatusCode"/> and
/// <see cref="GrpcStatusException.Reason"/> (for example <c>INPUT_QUEUE_FULL</c>).
/// </summary>
/// <example><code>
/// using var client = new FiberManagerClient(new Uri("http://127.0.0.1:50051"));
/// await client.StartAsync(new StartRequest { FiberId = "chat-1", Workflow = "echo" });
/// await client.SubmitAsync(new SubmitRequest { FiberId = "chat-1", Input = FiberManagerClient.Json(Value.ForString("hi")) });
/// await foreach (var e in client.SubscribeAsync(new SubscribeRequest { FiberId = "chat-1" }, cancellationToken: ct))
///     Console.WriteLine(e);
/// </code></example>
public sealed class FiberManagerClient : IDisposable
{
    private const string Service = "/fibermanager.v1.FiberManager/";
    private readonly GrpcChannel _channel;

    /// <summary>A client of the service at <paramref name="address"/> with its own connection pool.</summary>
    public FiberManagerClient(Uri address)
        : this(new FiberManagerClientOptions { Address = address })
    {
    }

    /// <summary>
    /// A client with <paramref name="options"/> and its own connection pool: TLS for an
    /// <c>https</c> address (trusting <see cref="FiberManagerClientOptions.ServerCertificateAuthority"/>
    /// when set), a client certificate for mutual TLS (<see cref="FiberManagerClientOptions.ClientCertificate"/>),
    /// and an API key on every call (<see cref="FiberManagerClientOptions.ApiKey"/>).
    /// </summary>
    public FiberManagerClient(FiberManagerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _channel = new GrpcChannel(GrpcChannel.CreateHttpClient(options), ownsHttp: true, options);
    }

    /// <summary>A client over an existing <see cref="HttpClient"/> (its BaseAddress is the service; HTTP/2 is required).</summary>
    public FiberManagerClient(HttpClient httpClient, FiberManagerClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        _channel = new GrpcChannel(httpClient, ownsHttp: false, options ?? new FiberManagerClientOptions());
    }

    /// <summary>A JSON payload.</summary>
    public static Payload Json(Value value) => new() { Json = value };

    /// <summary>A binary payload.</summary>
    public static Payload Binary(ReadOnlySpan<byte> bytes) => new() { Binary = ByteString.CopyFrom(bytes) };

    /// <summary>Start: starts a workflow under an id.</summary>
    public Task<StartResponse> StartAsync(StartRequest request, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(Service + "Start", request, StartResponse.Parser, options, cancellationToken);

    /// <summary>Start with the common fields.</summary>
    /// <example><code>await client.StartAsync("sums", "aggregate", new Struct { Fields = { ["batch_size"] = Value.ForNumber(5) } });</code></example>
    public Task<StartResponse> StartAsync(string fiberId, string workflow, Struct? args = null, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new StartRequest { FiberId = fiberId, Workflow = workflow, Args = args }, options, cancellationToken);

    /// <summary>Submit: offers one input.</summary>
    public Task<SubmitResponse> SubmitAsync(SubmitRequest request, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(Service + "Submit", request, SubmitResponse.Parser, options, cancellationToken);

    /// <summary>Submit a JSON value.</summary>
    /// <example><code>await client.SubmitAsync("chat-1", Value.ForString("hello"));</code></example>
    public Task<SubmitResponse> SubmitAsync(string fiberId, Value json, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        SubmitAsync(new SubmitRequest { FiberId = fiberId, Input = Json(json) }, options, cancellationToken);

    /// <summary>Pause: stops the fiber taking inputs.</summary>
    public async Task<FiberInfo> PauseAsync(string fiberId, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await _channel.UnaryAsync(Service + "Pause", new PauseRequest { FiberId = fiberId }, PauseResponse.Parser, options, cancellationToken).ConfigureAwait(false)).Fiber;

    /// <summary>Resume: lets the fiber take inputs again.</summary>
    public async Task<FiberInfo> ResumeAsync(string fiberId, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await _channel.UnaryAsync(Service + "Resume", new ResumeRequest { FiberId = fiberId }, ResumeResponse.Parser, options, cancellationToken).ConfigureAwait(false)).Fiber;

    /// <summary>Interrupt: stops the fiber (with an optional grace period) and returns its final state.</summary>
    public async Task<FiberInfo> InterruptAsync(string fiberId, TimeSpan? grace = null, GrpcCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new InterruptRequest { FiberId = fiberId, Grace = grace is { } g ? Duration.FromTimeSpan(g) : null };
        return (await _channel.UnaryAsync(Service + "Interrupt", request, InterruptResponse.Parser, options, cancellationToken).ConfigureAwait(false)).Fiber;
    }

    /// <summary>GetStatus.</summary>
    public Task<FiberInfo> GetStatusAsync(string fiberId, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(Service + "GetStatus", new GetStatusRequest { FiberId = fiberId }, FiberInfo.Parser, options, cancellationToken);

    /// <summary>ListFibers: one page.</summary>
    public Task<ListFibersResponse> ListFibersAsync(ListFibersRequest? request = null, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.UnaryAsync(Service + "ListFibers", request ?? new ListFibersRequest(), ListFibersResponse.Parser, options, cancellationToken);

    /// <summary>ListWorkflows.</summary>
    public async Task<IReadOnlyList<WorkflowInfo>> ListWorkflowsAsync(GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await _channel.UnaryAsync(Service + "ListWorkflows", new ListWorkflowsRequest(), ListWorkflowsResponse.Parser, options, cancellationToken).ConfigureAwait(false)).Workflows;

    /// <summary>
    /// Subscribe: the fiber's events, ending after its terminated event. Cancel
    /// <paramref name="cancellationToken"/> (or stop enumerating) to cancel the stream.
    /// </summary>
    public IAsyncEnumerable<FiberEvent> SubscribeAsync(SubscribeRequest request, GrpcCallOptions? options = null, CancellationToken cancellationToken = default) =>
        _channel.ServerStreamingAsync(Service + "Subscribe", request, FiberEvent.Parser, options, cancellationToken);

    /// <summary>Subscribe after <paramref name="fromSequence"/> (0: the replay window, then live).</summary>
    public IAsyncEnumerable<FiberEvent> SubscribeAsync(string fiberId, ulong fromSequence = 0, CancellationToken cancellationToken = default) =>
        SubscribeAsync(new SubscribeRequest { FiberId = fiberId, FromSequence = fromSequence }, null, cancellationToken);

    /// <inheritdoc/>
    public void Dispose() => _channel.Dispose();
}
