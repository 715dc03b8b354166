using FiberManager.Core.Management;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Hosting;

/// <summary>
/// Ties the manager to the host. When the host starts stopping (health turns NOT_SERVING at the
/// same moment), the manager stops admitting, interrupts every fiber with grace and delivers
/// every terminated event, so open Subscribe streams end with their terminated event and OK
/// while Kestrel is still serving them. Hosted services stop in reverse order of registration,
/// and Kestrel's was registered first: <see cref="StopAsync"/> waits for the manager before
/// Kestrel stops.
/// </summary>
internal sealed class ManagerLifetime(FiberSupervisor<V1.Payload, V1.Payload> manager, IHostApplicationLifetime lifetime) : IHostedService
{
    private Task _shutdown = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => _shutdown = manager.DisposeAsync().AsTask());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _shutdown.WaitAsync(cancellationToken);
}
