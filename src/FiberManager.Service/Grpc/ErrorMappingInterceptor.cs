using FiberManager.Service.Hosting;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Grpc;

/// <summary>
/// The one place where exceptions become gRPC statuses, for every method of every service the
/// host maps: whatever a method throws is rethrown as the <see cref="RpcException"/> that
/// <see cref="GrpcErrorMapper"/> makes of it, which grpc-dotnet writes as <c>grpc-status</c>,
/// <c>grpc-message</c> and <c>grpc-status-details-bin</c>. Unexpected exceptions are logged here.
/// </summary>
/// <remarks>
/// grpc-dotnet runs interceptors after the request message is read, so what it refuses itself
/// (a malformed or oversized message, an expired deadline) never reaches this class; callers the
/// security layer refuses never reach the endpoint at all.
/// </remarks>
internal sealed class ErrorMappingInterceptor(IOptions<ServerOptions> options, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory) : Interceptor
{
    private readonly bool _detailedErrors = options.Value.DetailedErrors;
    private readonly ILogger _logger = loggerFactory.CreateLogger(GrpcLog.Category);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Task<TResponse> response;
        try
        {
            response = continuation(request, context);
        }
        catch (Exception exception)
        {
            throw Map(exception, context);
        }

        // The usual unary call completes synchronously: no state machine for it.
        return response.IsCompletedSuccessfully ? response : AwaitAsync(response, context);

        async Task<TResponse> AwaitAsync(Task<TResponse> pending, ServerCallContext call)
        {
            try
            {
                return await pending.ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                throw Map(exception, call);
            }
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            throw Map(exception, context);
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            throw Map(exception, context);
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            throw Map(exception, context);
        }
    }

    /// <summary>Why the call's token fired, if it did: the deadline, the client going away, or the host stopping.</summary>
    internal static CancellationCause CauseOf(ServerCallContext context, IHostApplicationLifetime lifetime)
    {
        if (context.Deadline <= DateTime.UtcNow)
        {
            return CancellationCause.Deadline;
        }

        if (context.GetHttpContext().RequestAborted.IsCancellationRequested)
        {
            return CancellationCause.Client;
        }

        return lifetime.ApplicationStopping.IsCancellationRequested ? CancellationCause.ServerStopping : CancellationCause.None;
    }

    private RpcException Map(Exception exception, ServerCallContext context)
    {
        var cause = exception is OperationCanceledException ? CauseOf(context, lifetime) : CancellationCause.None;
        var status = GrpcErrorMapper.Map(exception, cause, _detailedErrors);
        if (status.StatusCode == StatusCode.Internal && exception is not RpcException)
        {
            GrpcLog.UnhandledException(_logger, context.Method, exception);
        }
        else if (cause == CancellationCause.Client)
        {
            GrpcLog.CallCancelled(_logger, context.Method);
        }

        return status;
    }
}
