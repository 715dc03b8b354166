using FiberManager.Client;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Telemetry.Tests;

/// <summary>The real service on Kestrel (127.0.0.1, a free port) and a client; as the ServiceHost of the functional tests.</summary>
public sealed class TestServiceHost : IAsyncDisposable
{
    private TestServiceHost(WebApplication app, Uri address)
    {
        App = app;
        Client = new FiberManagerClient(address);
    }

    public WebApplication App { get; }

    public FiberManagerClient Client { get; }

    public static async Task<TestServiceHost> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var app = FiberManagerApp.Create([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["FiberManager:Server:Url"] = "http://127.0.0.1:0",
                ["Logging:LogLevel:Default"] = "Warning",
            });
            if (settings is not null)
            {
                builder.Configuration.AddInMemoryCollection(settings);
            }
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServiceHost(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await App.DisposeAsync();
    }
}
