using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Stub = FiberManager.Protocol.V1.FiberManager.FiberManagerClient;

namespace FiberManager.Client;

/// <summary>
/// The typed .NET client of <c>fibermanager.v1.FiberManager</c>, over the client stub that
/// Grpc.Tools generates from the contract (Grpc.Net.Client underneath). Thread-safe; keep one per
/// service address (it reuses its HTTP/2 connections), or inject it with
/// <see cref="FiberManagerClientServiceCollectionExtensions.AddFiberManagerClient"/>.
/// </summary>
/// <remarks>
/// <para>
/// Failures throw <see cref="RpcException"/>; <see cref="RpcExceptionExtensions.GetReason"/> reads
/// FiberManager's reason (for example <c>INPUT_QUEUE_FULL</c>). Cancelling a call's token throws
/// <see cref="OperationCanceledException"/>. Every method takes grpc-dotnet's
/// <see cref="CallOptions"/> for a deadline or headers, and a cancellation token (both the token
/// in the options and the method's token cancel the call).
/// </para>
/// <para>
/// Unary calls without a deadline get <see cref="FiberManagerClientOptions.DefaultUnaryTimeout"/>.
/// A Start with a <c>request_id</c> and a Submit with a <c>submit_id</c> are retried when the
/// service is UNAVAILABLE (<see cref="FiberManagerClientOptions.Retry"/>); no other call is.
/// Subscribe resumes by itself after a broken connection (<see cref="SubscribeAsync(SubscribeRequest, CallOptions?, CancellationToken)"/>).
/// </para>
/// </remarks>
/// <example><code>
/// using var client = new FiberManagerClient(new Uri("http://127.0.0.1:50051"));
/// await client.StartAsync("chat-1", "echo");
/// await client.SubmitAsync("chat-1", Value.ForString("hi"), new CallOptions(deadline: DateTime.UtcNow.AddSeconds(5)));
/// await foreach (var e in client.SubscribeAsync("chat-1", cancellationToken: ct))
///     Console.WriteLine(e);
/// </code></example>
public sealed class FiberManagerClient : IDisposable
{
    private readonly Stub _calls;
    private readonly Stub _idempotentCalls;
    private readonly RetrySettings _resume;
    private readonly IDisposable? _owned;

    /// <summary>A client of the service at <paramref name="address"/> with its own connections and the default options.</summary>
    public FiberManagerClient(Uri address)
        : this(new FiberManagerClientOptions { Address = address })
    {
    }

    /// <summary>
    /// A client with <paramref name="options"/> and its own connections: TLS for an <c>https</c>
    /// address (trusting <see cref="FiberManagerClientOptions.ServerCertificateAuthority"/> when set),
    /// a client certificate for mutual TLS (<see cref="FiberManagerClientOptions.ClientCertificate"/>),
    /// and an API key on every call (<see cref="FiberManagerClientOptions.ApiKey"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid (the message lists every problem).</exception>
    public FiberManagerClient(FiberManagerClientOptions options)
        : this(ClientSettings.From(options))
    {
    }

    /// <summary>
    /// A client over your own channel (for example a <c>GrpcChannel</c> with your own handler),
    /// which it does not dispose. Of <paramref name="options"/> it applies what concerns calls: the
    /// API key, default headers, default deadline and Subscribe's resumption; connections, TLS and
    /// retries are the channel's.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not valid, or set a client certificate or CA (configure those on the channel's handler).</exception>
    public FiberManagerClient(ChannelBase channel, FiberManagerClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var settings = ClientSettings.From(options ?? new FiberManagerClientOptions());
        if (settings.ClientCertificate is not null || settings.ServerCertificateAuthority is not null)
        {
            throw new ArgumentException("ClientCertificate and ServerCertificateAuthority configure the client's own connections: set them on your channel's HTTP handler instead.", nameof(options));
        }

        _calls = new Stub(channel.CreateCallInvoker().Intercept(new CallDefaultsInterceptor(settings)));
        _idempotentCalls = _calls;
        _resume = settings.SubscribeResume;
    }

    /// <summary>A client over the gRPC client factory's stubs (dependency injection).</summary>
    internal FiberManagerClient(Stub calls, Stub idempotentCalls, ClientSettings settings)
    {
        _calls = calls;
        _idempotentCalls = idempotentCalls;
        _resume = settings.SubscribeResume;
    }

    private FiberManagerClient(ClientSettings settings)
        : this(new FiberManagerChannels(settings), settings)
    {
    }

    private FiberManagerClient(FiberManagerChannels channels, ClientSettings settings)
        : this(channels.Calls, channels.IdempotentCalls, settings)
    {
        _owned = channels;
    }

    /// <summary>A JSON payload.</summary>
    public static Payload Json(Value value) => new() { Json = value };

    /// <summary>A binary payload.</summary>
    public static Payload Binary(ReadOnlySpan<byte> bytes) => new() { Binary = ByteString.CopyFrom(bytes) };

    /// <summary>Start: starts a workflow under an id. Retried on UNAVAILABLE when the request has a <c>request_id</c>.</summary>
    public Task<StartResponse> StartAsync(StartRequest request, CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var calls = request.RequestId.Length > 0 ? _idempotentCalls : _calls;
        return UnaryAsync(static (stub, r, o) => stub.StartAsync(r, o), calls, request, options, cancellationToken);
    }

    /// <summary>Start with the common fields.</summary>
    /// <example><code>await client.StartAsync("sums", "aggregate", new Struct { Fields = { ["batch_size"] = Value.ForNumber(5) } });</code></example>
    public Task<StartResponse> StartAsync(string fiberId, string workflow, Struct? args = null, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        StartAsync(new StartRequest { FiberId = fiberId, Workflow = workflow, Args = args }, options, cancellationToken);

    /// <summary>Submit: offers one input. Retried on UNAVAILABLE when the request has a <c>submit_id</c>.</summary>
    public Task<SubmitResponse> SubmitAsync(SubmitRequest request, CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var calls = request.SubmitId.Length > 0 ? _idempotentCalls : _calls;
        return UnaryAsync(static (stub, r, o) => stub.SubmitAsync(r, o), calls, request, options, cancellationToken);
    }

    /// <summary>Submit a JSON value.</summary>
    /// <example><code>await client.SubmitAsync("chat-1", Value.ForString("hello"));</code></example>
    public Task<SubmitResponse> SubmitAsync(string fiberId, Value json, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        SubmitAsync(new SubmitRequest { FiberId = fiberId, Input = Json(json) }, options, cancellationToken);

    /// <summary>Pause: stops the fiber taking inputs.</summary>
    public async Task<FiberInfo> PauseAsync(string fiberId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(static (stub, r, o) => stub.PauseAsync(r, o), _calls, new PauseRequest { FiberId = fiberId }, options, cancellationToken).ConfigureAwait(false)).Fiber;

    /// <summary>Resume: lets the fiber take inputs again.</summary>
    public async Task<FiberInfo> ResumeAsync(string fiberId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(static (stub, r, o) => stub.ResumeAsync(r, o), _calls, new ResumeRequest { FiberId = fiberId }, options, cancellationToken).ConfigureAwait(false)).Fiber;

    /// <summary>Interrupt: stops the fiber (with an optional grace period) and returns its final state.</summary>
    public async Task<FiberInfo> InterruptAsync(string fiberId, TimeSpan? grace = null, CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = new InterruptRequest { FiberId = fiberId, Grace = grace is { } g ? Duration.FromTimeSpan(g) : null };
        return (await UnaryAsync(static (stub, r, o) => stub.InterruptAsync(r, o), _calls, request, options, cancellationToken).ConfigureAwait(false)).Fiber;
    }

    /// <summary>GetStatus.</summary>
    public Task<FiberInfo> GetStatusAsync(string fiberId, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(static (stub, r, o) => stub.GetStatusAsync(r, o), _calls, new GetStatusRequest { FiberId = fiberId }, options, cancellationToken);

    /// <summary>ListFibers: one page.</summary>
    public Task<ListFibersResponse> ListFibersAsync(ListFibersRequest? request = null, CallOptions? options = null, CancellationToken cancellationToken = default) =>
        UnaryAsync(static (stub, r, o) => stub.ListFibersAsync(r, o), _calls, request ?? new ListFibersRequest(), options, cancellationToken);

    /// <summary>ListWorkflows.</summary>
    public async Task<IReadOnlyList<WorkflowInfo>> ListWorkflowsAsync(CallOptions? options = null, CancellationToken cancellationToken = default) =>
        (await UnaryAsync(static (stub, r, o) => stub.ListWorkflowsAsync(r, o), _calls, new ListWorkflowsRequest(), options, cancellationToken).ConfigureAwait(false)).Workflows;

    /// <summary>
    /// Subscribe: the fiber's events after <c>from_sequence</c>, ending after its terminated
    /// event. When the connection breaks (UNAVAILABLE, a stream or connection reset) the stream
    /// reopens by itself after the last sequence it delivered: no event twice, none skipped
    /// (events the server no longer has arrive as a Gap). It gives up after
    /// <see cref="FiberManagerClientOptions.SubscribeResume"/> reopenings in a row that brought
    /// no event, with the last error. Any status the server sends (NOT_FOUND, OUT_OF_RANGE, …) and
    /// the deadline end it. Cancel <paramref name="cancellationToken"/> (or stop enumerating) to
    /// cancel the stream.
    /// </summary>
    public IAsyncEnumerable<FiberEvent> SubscribeAsync(SubscribeRequest request, CallOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ResumingSubscription.ReadAsync(_calls, _resume, request, options ?? default, cancellationToken);
    }

    /// <summary>Subscribe after <paramref name="fromSequence"/> (0: the replay window, then live).</summary>
    public IAsyncEnumerable<FiberEvent> SubscribeAsync(string fiberId, ulong fromSequence = 0, CancellationToken cancellationToken = default) =>
        SubscribeAsync(new SubscribeRequest { FiberId = fiberId, FromSequence = fromSequence }, null, cancellationToken);

    /// <summary>Closes the client's own connections (a client over your channel or from dependency injection has none).</summary>
    public void Dispose() => _owned?.Dispose();

    private static async Task<TResponse> UnaryAsync<TRequest, TResponse>(
        Func<Stub, TRequest, CallOptions, AsyncUnaryCall<TResponse>> start,
        Stub calls,
        TRequest request,
        CallOptions? options,
        CancellationToken cancellationToken)
    {
        var callOptions = CallTokens.Combine(options ?? default, cancellationToken, out var linked);
        using (linked)
        {
            using var call = start(calls, request, callOptions);
            try
            {
                return await call.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && callOptions.CancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The call was cancelled.", e, callOptions.CancellationToken);
            }
        }
    }
}
