using FiberManager.Core.Management;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Hosting;

/// <summary>
/// Ties the manager to the host: when the host starts stopping, the manager stops admitting,
/// interrupts every fiber with grace and delivers every terminated event — so open Subscribe
/// streams end cleanly while Kestrel is still draining requests, instead of being reset.
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
