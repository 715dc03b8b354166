using FiberManager.Protocol;
using HealthV1 = global::Grpc.Health.V1;
using ServingStatus = global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace FiberManager.Service.Grpc.Health;

/// <summary>
/// The standard <c>grpc.health.v1.Health</c> service (Kubernetes gRPC probes, grpc_health_probe,
/// load balancers) for the whole server (<c>""</c>) and for <c>fibermanager.v1.FiberManager</c>:
/// SERVING while the host runs, NOT_SERVING from the moment it starts stopping.
/// </summary>
/// <remarks>
/// Check answers an unknown service with NOT_FOUND. Watch sends the current status at once
/// (SERVICE_UNKNOWN for an unknown service, and keeps the stream open, as the protocol asks).
/// When the host starts stopping, Watch sends NOT_SERVING (for a known service) and ends the
/// stream with OK, so watchers see the change instead of a reset connection.
/// </remarks>
internal sealed class HealthService(IHostApplicationLifetime lifetime) : IGrpcService
{
    public const string ServiceName = "grpc.health.v1.Health";

    private static readonly HealthV1.HealthCheckResponse s_serving = new() { Status = ServingStatus.Serving };
    private static readonly HealthV1.HealthCheckResponse s_notServing = new() { Status = ServingStatus.NotServing };
    private static readonly HealthV1.HealthCheckResponse s_serviceUnknown = new() { Status = ServingStatus.ServiceUnknown };

    /// <summary>The services whose health is reported: the whole server and the FiberManager service.</summary>
    public static IReadOnlyList<string> KnownServices { get; } = [string.Empty, FiberManagerRpc.ServiceName];

    public void Register(GrpcMethodTable table)
    {
        table.AddUnary<HealthV1.HealthCheckRequest, HealthV1.HealthCheckResponse>(ServiceName, "Check", HealthV1.HealthCheckRequest.Parser, (request, _) => new(Check(request)));
        table.AddServerStreaming<HealthV1.HealthCheckRequest, HealthV1.HealthCheckResponse>(ServiceName, "Watch", HealthV1.HealthCheckRequest.Parser, WatchAsync);
    }

    private bool Stopping => lifetime.ApplicationStopping.IsCancellationRequested;

    private HealthV1.HealthCheckResponse Check(HealthV1.HealthCheckRequest request)
    {
        if (!KnownServices.Contains(request.Service))
        {
            throw new GrpcStatusException(GrpcStatusCode.NotFound, $"Unknown service '{request.Service}': health is reported for \"\" (the server) and \"{FiberManagerRpc.ServiceName}\".");
        }

        return Stopping ? s_notServing : s_serving;
    }

    private async Task WatchAsync(HealthV1.HealthCheckRequest request, IServerStreamWriter<HealthV1.HealthCheckResponse> writer, GrpcCallContext call)
    {
        var known = KnownServices.Contains(request.Service);
        var stopping = Stopping;
        await writer.WriteAsync(!known ? s_serviceUnknown : stopping ? s_notServing : s_serving, call.CancellationToken).ConfigureAwait(false);
        if (stopping)
        {
            return;
        }

        // The one status change this server has is "stopping": wait for it (or for the client to
        // cancel, or the deadline). Streaming calls themselves are ended only once the manager has
        // drained, so the NOT_SERVING update goes out while the stream is still open.
        using var stoppingOrCall = CancellationTokenSource.CreateLinkedTokenSource(call.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, stoppingOrCall.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (Stopping && !call.ClientCancelled && !call.DeadlineExceeded)
        {
        }

        if (known)
        {
            await writer.WriteAsync(s_notServing, call.HttpContext.RequestAborted).ConfigureAwait(false);
        }
    }
}
