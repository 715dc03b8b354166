using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FiberManager.Service.Health;

/// <summary>
/// Healthy while the host runs, unhealthy from the moment it starts stopping (SIGTERM, Ctrl-C):
/// health Check answers NOT_SERVING at once, so load balancers and probes stop sending new work
/// while the manager ends its fibers.
/// </summary>
internal sealed class HostLifetimeHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    /// <summary>The name it is registered under.</summary>
    public const string Name = "host";

    private static readonly Task<HealthCheckResult> s_healthy = Task.FromResult(HealthCheckResult.Healthy("The host is running."));
    private static readonly Task<HealthCheckResult> s_stopping = Task.FromResult(HealthCheckResult.Unhealthy("The host is stopping."));

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        lifetime.ApplicationStopping.IsCancellationRequested ? s_stopping : s_healthy;
}
