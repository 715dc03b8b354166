using System.Collections.Concurrent;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// Records <c>rpc.server.duration</c> (<see cref="ServiceTelemetryNames.RpcServerDuration"/>) for
/// every call, with the status the call ended with: the one place this metric is made. It runs
/// outside <see cref="Grpc.ErrorMappingInterceptor"/>, so it sees the final status of every failure.
/// </summary>
/// <remarks>
/// <para>grpc-dotnet emits no RPC metric of its own, and ASP.NET Core's
/// <c>http.server.request.duration</c> knows the HTTP status only (always 200 for gRPC). The
/// metric is made here rather than in the ASP.NET Core instrumentation's callbacks because those
/// run only for requests that are traced and sampled; metrics must not depend on tracing.</para>
/// <para>The call's span is ASP.NET Core's request span, named and tagged by the OpenTelemetry
/// ASP.NET Core instrumentation (see <see cref="TelemetryServiceExtensions"/>), not by this class.</para>
/// <para>Calls refused before an endpoint runs (authentication, authorization, the rate limit, a
/// malformed or oversized message) are not recorded here; ASP.NET Core's own meters count them.</para>
/// </remarks>
internal sealed class RpcTelemetryInterceptor(IHostApplicationLifetime lifetime) : Interceptor
{
    private readonly ConcurrentDictionary<string, RpcMethodTags> _methods = new(StringComparer.Ordinal);

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
            call.Stop(CodeOf(exception, context));
            throw;
        }

        if (response.IsCompletedSuccessfully)
        {
            call.Stop(StatusCode.OK);
            return response;
        }

        return AwaitAsync(response, call, context);

        async Task<TResponse> AwaitAsync(Task<TResponse> pending, RpcMethodTags.Call telemetry, ServerCallContext callContext)
        {
            try
            {
                var result = await pending.ConfigureAwait(false);
                telemetry.Stop(StatusCode.OK);
                return result;
            }
            catch (Exception exception)
            {
                telemetry.Stop(CodeOf(exception, callContext));
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
            call.Stop(CodeOf(exception, context));
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
            call.Stop(CodeOf(exception, context));
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
            call.Stop(CodeOf(exception, context));
            throw;
        }
    }

    private RpcMethodTags.Call Start(ServerCallContext context) =>
        _methods.GetOrAdd(context.Method, static method => new RpcMethodTags(method)).Start();

    /// <summary>The status a failed call reports: CANCELLED when the client went away (it never sees any other), else the exception's.</summary>
    private StatusCode CodeOf(Exception exception, ServerCallContext context) =>
        Grpc.ErrorMappingInterceptor.CauseOf(context, lifetime) == Grpc.CancellationCause.Client ? StatusCode.Cancelled
        : exception is RpcException rpc ? rpc.StatusCode
        : StatusCode.Unknown;
}
