using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// Records the RPC span and the <c>rpc.server.duration</c> histogram of every call (see
/// <see cref="RpcTelemetry"/>), with the status the call ended with. It runs outside
/// <see cref="Grpc.ErrorMappingInterceptor"/>, so it sees the final status of every failure.
/// </summary>
/// <remarks>
/// An adapter that keeps the telemetry of the service's earlier call handlers unchanged on
/// grpc-dotnet. It is the seam for moving to <c>AddOpenTelemetry()</c> with ASP.NET Core's own
/// request instrumentation: replacing it means deleting this class and its registration in
/// <c>FiberManagerServiceExtensions</c>. Calls refused before an endpoint runs (security,
/// malformed messages) are not recorded here.
/// </remarks>
internal sealed class RpcTelemetryInterceptor(IHostApplicationLifetime lifetime) : Interceptor
{
    private readonly ConcurrentDictionary<string, RpcTelemetry> _methods = new(StringComparer.Ordinal);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var call = Start(context);
        Task<TResponse> response;
        try
        {
            response = continuation(request, context);
        }
        catch (Exception exception)
        {
            call.Stop(CodeOf(exception, context), exception);
            throw;
        }

        if (response.IsCompletedSuccessfully)
        {
            call.Stop(StatusCode.OK);
            return response;
        }

        return AwaitAsync(response, call, context);

        async Task<TResponse> AwaitAsync(Task<TResponse> pending, RpcCallTelemetry telemetry, ServerCallContext callContext)
        {
            try
            {
                var result = await pending.ConfigureAwait(false);
                telemetry.Stop(StatusCode.OK);
                return result;
            }
            catch (Exception exception)
            {
                telemetry.Stop(CodeOf(exception, callContext), exception);
                throw;
            }
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = Start(context);
        try
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            call.Stop(StatusCode.OK);
        }
        catch (Exception exception)
        {
            call.Stop(CodeOf(exception, context), exception);
            throw;
        }
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = Start(context);
        try
        {
            var response = await continuation(requestStream, context).ConfigureAwait(false);
            call.Stop(StatusCode.OK);
            return response;
        }
        catch (Exception exception)
        {
            call.Stop(CodeOf(exception, context), exception);
            throw;
        }
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var call = Start(context);
        try
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            call.Stop(StatusCode.OK);
        }
        catch (Exception exception)
        {
            call.Stop(CodeOf(exception, context), exception);
            throw;
        }
    }

    private RpcCallTelemetry Start(ServerCallContext context) =>
        _methods.GetOrAdd(context.Method, static method => new RpcTelemetry(method)).Start(context.GetHttpContext());

    /// <summary>The status a failed call reports: CANCELLED when the client went away (it never sees any other), else the exception's.</summary>
    private StatusCode CodeOf(Exception exception, ServerCallContext context) =>
        Grpc.ErrorMappingInterceptor.CauseOf(context, lifetime) == Grpc.CancellationCause.Client ? StatusCode.Cancelled
        : exception is RpcException rpc ? rpc.StatusCode
        : StatusCode.Unknown;
}
