using FiberManager.Core.Management;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Hosting;

/// <summary>
/// Ties the manager to the host. When the host starts stopping (health turns NOT_SERVING at the
/// same moment), the manager stops admitting, interrupts every fiber with grace and delivers
/// every terminated event, so open Subscribe streams end with their terminated event and OK.
/// WebApplication registers Kestrel's hosted service last, so it is the first to stop: it stops
/// accepting calls and waits for the open ones, which end as the manager ends their fibers;
/// <see cref="StopAsync"/> then waits for the manager to finish, within the host's shutdown timeout.
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
