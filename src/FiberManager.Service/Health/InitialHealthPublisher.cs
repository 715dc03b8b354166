using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FiberManager.Service.Health;

/// <summary>
/// Runs the health checks once and publishes the report before the server starts listening.
/// </summary>
/// <remarks>
/// Grpc.AspNetCore.HealthChecks answers Check by running the checks, but feeds Watch streams from
/// the statuses its publisher sets, and ASP.NET Core's publisher first runs seconds after start.
/// Without this, a Watch opened before that first run would get SERVING twice (once at once, once
/// when the status first becomes known); with it, Watch streams see a message only when a status
/// changes. At shutdown the package itself ends Watch streams with NOT_SERVING.
/// </remarks>
internal sealed class InitialHealthPublisher(HealthCheckService checks, IEnumerable<IHealthCheckPublisher> publishers) : IHostedLifecycleService
{
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
        foreach (var publisher in publishers)
        {
            await publisher.PublishAsync(report, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
