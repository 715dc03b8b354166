using FiberManager.Client;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Service.Tests;

/// <summary>
/// The real service on Kestrel, listening on 127.0.0.1 on a free port (HTTP/2 cleartext), and a
/// .NET client connected to it. Dispose stops the host (the manager shuts down with it).
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private ServiceHost(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new FiberManagerClient(address);
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public FiberManagerClient Client { get; }

    public static async Task<ServiceHost> StartAsync(IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        var app = FiberManagerApp.Create([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["FiberManager:Server:Url"] = "http://127.0.0.1:0",
                ["Logging:LogLevel:Default"] = "Warning",
                ["FiberManager:Server:DetailedErrors"] = "true",
            });
            if (settings is not null)
            {
                builder.Configuration.AddInMemoryCollection(settings);
            }

            configure?.Invoke(builder);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ServiceHost(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await App.DisposeAsync();
    }
}

/// <summary>
/// One service shared by the tests of a class (fibers use unique ids per test), with the test
/// workflows registered and a short interrupt grace period so that shutdown stays quick.
/// </summary>
public sealed class SharedServiceFixture : IAsyncLifetime
{
    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(
        new Dictionary<string, string?> { ["FiberManager:InterruptGracePeriod"] = "00:00:02" },
        TestWorkflows.Register);

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(Default);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(Default);
}
