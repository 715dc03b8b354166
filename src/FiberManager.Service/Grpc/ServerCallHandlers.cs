using System.IO.Pipelines;
using FiberManager.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Logging;

namespace FiberManager.Service.Grpc;

/// <summary>
/// What every call handler shares: limits, logging, and the two shutdown signals — stopping
/// (the host began to stop: new work is refused) and drained (the manager has finished: streams
/// still open are ended).
/// </summary>
internal sealed class GrpcServerContext(
    ServerSettings settings,
    ILogger logger,
    CancellationToken stopping,
    CancellationToken drained,
    ApiKeyAuthenticator? authenticator = null,
    ClientCertificateAuthenticator? clientCertificates = null)
{
    /// <summary>Checks API keys and rate limits before a method runs; null when security is off.</summary>
    public ApiKeyAuthenticator? Authenticator { get; } = authenticator is { Enabled: true } ? authenticator : null;

    /// <summary>Checks the connection's client certificate before a method runs; null when mTLS is off.</summary>
    public ClientCertificateAuthenticator? ClientCertificates { get; } = clientCertificates is { Enabled: true } ? clientCertificates : null;

    public ServerSettings Settings { get; } = settings;

    public ILogger Logger { get; } = logger;

    public CancellationToken Stopping { get; } = stopping;

    public CancellationToken Drained { get; } = drained;

    public GrpcMessageReadOptions ReadOptions { get; } = new() { MaxMessageSize = settings.MaxMessageSize };

    /// <summary>
    /// The read options of one call: the shared ones, or, when the client names a
    /// <c>grpc-encoding</c>, options carrying it, so that a compressed message gets UNIMPLEMENTED
    /// (an encoding FiberManager does not support) rather than INTERNAL (no encoding sent).
    /// </summary>
    public GrpcMessageReadOptions ReadOptionsFor(HttpRequest request) =>
        request.Headers.TryGetValue(GrpcHeaders.Encoding, out var encoding) && encoding.Count > 0
            ? new() { MaxMessageSize = Settings.MaxMessageSize, MessageEncoding = encoding.ToString() }
            : ReadOptions;
}

/// <summary>The limits the wire layer enforces.</summary>
/// <param name="MaxMessageSize">The largest message received or sent.</param>
/// <param name="DetailedErrors">Exception messages of unexpected errors go to the client.</param>
/// <param name="MaxInputSize">The largest Submit input (serialized payload).</param>
internal sealed record ServerSettings(int MaxMessageSize, bool DetailedErrors, int MaxInputSize);

/// <summary>
/// The base of every call kind: checks the request is gRPC over HTTP/2, reads the deadline,
/// builds the call context, runs the method, and ends every path in a gRPC status — trailers-only
/// when no message was written, trailers otherwise. Exceptions become statuses only in
/// <see cref="GrpcErrorMapper"/>.
/// </summary>
internal abstract class ServerCallHandler(GrpcServerContext server, string method)
{
    protected GrpcServerContext Server { get; } = server;

    public string Method { get; } = method;

    private readonly Telemetry.RpcTelemetry _telemetry = new(method);

    /// <summary>
    /// Whether the call's token is cancelled once the server has drained (the manager has shut
    /// down): streams that would otherwise never end. Unary calls run to completion.
    /// </summary>
    protected abstract bool EndsOnServerStop { get; }

    public Task HandleCallAsync(HttpContext http)
    {
        if (!HttpProtocol.IsHttp2(http.Request.Protocol) && !HttpProtocol.IsHttp3(http.Request.Protocol))
        {
            return GrpcResponses.RejectProtocolAsync(http);
        }

        if (!GrpcHeaders.IsGrpcContentType(http.Request.ContentType))
        {
            return GrpcResponses.RejectContentTypeAsync(http);
        }

        TimeSpan? timeout = null;
        if (http.Request.Headers.TryGetValue(GrpcHeaders.Timeout, out var timeoutHeader) && GrpcTimeout.TryParse(timeoutHeader.ToString(), out var parsed))
        {
            timeout = parsed;
        }

        // The body of a gRPC call can be long-lived: no minimum data rate, no body size limit
        // (the message size limit is enforced per message, before buffering).
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        if (http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } minRate)
        {
            minRate.MinDataRate = null;
        }

        http.Response.ContentType = GrpcHeaders.ContentTypeGrpc;
        http.Response.Headers[GrpcHeaders.AcceptEncoding] = GrpcHeaders.IdentityEncoding;
        var call = new GrpcCallContext(http, Method, timeout, EndsOnServerStop ? Server.Drained : CancellationToken.None)
        {
            ReadOptions = Server.ReadOptionsFor(http.Request),
        };
        var telemetry = _telemetry.Start(http);
        Task task;
        try
        {
            // Refused calls (client certificate, API key, rate limit) and calls whose deadline has
            // already passed ("0S") never run the method.
            Server.ClientCertificates?.Authorize(http, Method);
            call.Caller = Server.Authenticator?.Authorize(http, Method);
            task = call.DeadlineExceeded ? Task.FromCanceled(call.CancellationToken) : HandleCoreAsync(call);
        }
        catch (Exception exception)
        {
            task = Task.FromException(exception);
        }

        if (task.IsCompletedSuccessfully)
        {
            GrpcResponses.SetStatus(http, call, GrpcStatusCode.Ok, string.Empty, null);
            telemetry.Stop(GrpcStatusCode.Ok);
            call.Dispose();
            return Task.CompletedTask;
        }

        return AwaitCallAsync(task, call, telemetry);
    }

    private async Task AwaitCallAsync(Task task, GrpcCallContext call, Telemetry.RpcCallTelemetry telemetry)
    {
        try
        {
            await task.ConfigureAwait(false);
            GrpcResponses.SetStatus(call.HttpContext, call, GrpcStatusCode.Ok, string.Empty, null);
            telemetry.Stop(GrpcStatusCode.Ok);
        }
        catch (Exception exception)
        {
            var status = GrpcErrorMapper.Map(exception, call, Server.Settings.DetailedErrors, Server.Stopping.IsCancellationRequested);
            if (status.Code == GrpcStatusCode.Internal && exception is not GrpcStatusException)
            {
                GrpcLog.UnhandledException(Server.Logger, Method, exception);
            }
            else if (status.Code == GrpcStatusCode.Cancelled)
            {
                GrpcLog.CallCancelled(Server.Logger, Method);
            }

            if (!call.ClientCancelled)
            {
                GrpcResponses.SetStatus(call.HttpContext, call, status.Code, status.Message, status.ErrorInfo);
            }

            telemetry.Stop(call.ClientCancelled ? GrpcStatusCode.Cancelled : status.Code, exception);
        }
        finally
        {
            call.Dispose();
        }
    }

    protected abstract Task HandleCoreAsync(GrpcCallContext call);

    /// <summary>Writes one framed message and flushes it.</summary>
    protected ValueTask<FlushResult> WriteMessageAsync(GrpcCallContext call, IMessage message, CancellationToken cancellationToken)
    {
        var writer = call.HttpContext.Response.BodyWriter;
        GrpcMessageFraming.WriteMessage(writer, message, Server.Settings.MaxMessageSize);
        call.MessageWritten = true;
        return writer.FlushAsync(cancellationToken);
    }
}

/// <summary>A unary method: one request in, one response out.</summary>
internal sealed class UnaryServerCallHandler<TRequest, TResponse>(
    GrpcServerContext server,
    string method,
    MessageParser<TRequest> parser,
    Func<TRequest, GrpcCallContext, ValueTask<TResponse>> invoker)
    : ServerCallHandler(server, method)
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    protected override bool EndsOnServerStop => false;

    /// <summary>
    /// Runs without an async state machine while every step completes at once (the usual unary
    /// call: the request body is already buffered, the method answers synchronously, the flush
    /// needs no wait); the first step that must wait continues asynchronously.
    /// </summary>
    protected override Task HandleCoreAsync(GrpcCallContext call)
    {
        if (!GrpcMessageFraming.TryReadSingleMessage(call.HttpContext.Request.BodyReader, parser, call.ReadOptions, out var request))
        {
            return HandleAsync(call);
        }

        var response = invoker(request, call);
        if (!response.IsCompletedSuccessfully)
        {
            return RespondAsync(call, response);
        }

        var flush = WriteMessageAsync(call, response.Result, call.CancellationToken);
        if (!flush.IsCompletedSuccessfully)
        {
            return flush.AsTask();
        }

        _ = flush.Result;
        return Task.CompletedTask;
    }

    private async Task HandleAsync(GrpcCallContext call)
    {
        var request = await GrpcMessageFraming.ReadSingleMessageAsync(call.HttpContext.Request.BodyReader, parser, call.ReadOptions, call.CancellationToken).ConfigureAwait(false);
        await RespondAsync(call, invoker(request, call)).ConfigureAwait(false);
    }

    private async Task RespondAsync(GrpcCallContext call, ValueTask<TResponse> pending)
    {
        var response = await pending.ConfigureAwait(false);
        await WriteMessageAsync(call, response, call.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// A server-streaming method: one request in, a stream of responses out. By default the stream
/// is cancelled when the server stops; a method whose streams the application ends itself on
/// shutdown (Subscribe: the manager delivers every terminated event) passes
/// <c>endsOnServerStop: false</c>, so that cancelling does not race those last messages.
/// </summary>
internal sealed class ServerStreamingServerCallHandler<TRequest, TResponse>(
    GrpcServerContext server,
    string method,
    MessageParser<TRequest> parser,
    Func<TRequest, IServerStreamWriter<TResponse>, GrpcCallContext, Task> invoker,
    bool endsOnServerStop = true)
    : ServerCallHandler(server, method)
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    protected override bool EndsOnServerStop => endsOnServerStop;

    protected override async Task HandleCoreAsync(GrpcCallContext call)
    {
        var request = await GrpcMessageFraming.ReadSingleMessageAsync(call.HttpContext.Request.BodyReader, parser, call.ReadOptions, call.CancellationToken).ConfigureAwait(false);
        await invoker(request, new StreamWriter<TResponse>(this, call), call).ConfigureAwait(false);
    }

    internal ValueTask<FlushResult> Write(GrpcCallContext call, TResponse message, CancellationToken cancellationToken) =>
        WriteMessageAsync(call, message, cancellationToken);

    private sealed class StreamWriter<T>(ServerStreamingServerCallHandler<TRequest, T> handler, GrpcCallContext call) : IServerStreamWriter<T>
        where T : class, IMessage<T>
    {
        public async Task WriteAsync(T message, CancellationToken cancellationToken = default) =>
            await handler.Write(call, message, cancellationToken.CanBeCanceled ? cancellationToken : call.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A bidirectional-streaming method (server reflection uses it).</summary>
internal sealed class DuplexStreamingServerCallHandler<TRequest, TResponse>(
    GrpcServerContext server,
    string method,
    MessageParser<TRequest> parser,
    Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, GrpcCallContext, Task> invoker)
    : ServerCallHandler(server, method)
    where TRequest : class, IMessage<TRequest>
    where TResponse : class, IMessage<TResponse>
{
    protected override bool EndsOnServerStop => true;

    protected override Task HandleCoreAsync(GrpcCallContext call) =>
        invoker(new Reader(parser, call.ReadOptions, call), new Writer(this, call), call);

    private sealed class Reader(MessageParser<TRequest> parser, GrpcMessageReadOptions options, GrpcCallContext call) : IAsyncStreamReader<TRequest>
    {
        public ValueTask<TRequest?> ReadAsync(CancellationToken cancellationToken = default) =>
            GrpcMessageFraming.ReadMessageAsync(call.HttpContext.Request.BodyReader, parser, options, cancellationToken.CanBeCanceled ? cancellationToken : call.CancellationToken);
    }

    private sealed class Writer(DuplexStreamingServerCallHandler<TRequest, TResponse> handler, GrpcCallContext call) : IServerStreamWriter<TResponse>
    {
        private readonly SemaphoreSlim _gate = new(1, 1);

        public async Task WriteAsync(TResponse message, CancellationToken cancellationToken = default)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await handler.WriteMessageAsync(call, message, cancellationToken.CanBeCanceled ? cancellationToken : call.CancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
