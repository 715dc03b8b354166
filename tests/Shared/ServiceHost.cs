using FiberManager.Client;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Testing;

/// <summary>
/// The real service on Kestrel, listening on 127.0.0.1 on a free port (HTTP/2 cleartext), and a
/// .NET client connected to it. Dispose stops the host (the manager shuts down with it).
/// </summary>
/// <remarks>
/// Shared by the functional and the hardening tests (linked into both projects). A project adds
/// its own defaults by implementing <see cref="AddProjectDefaults"/>, and its own members in
/// another part of this partial class.
/// </remarks>
public sealed partial class ServiceHost : IAsyncDisposable
{
    private readonly List<IDisposable> _owned = [];

    private ServiceHost(WebApplication app, Uri address)
    {
        App = app;
        Address = address;
        Client = new FiberManagerClient(address);
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public FiberManagerClient Client { get; }

    /// <summary>
    /// Starts the service: 127.0.0.1 on a free port, warnings and worse logged, then the
    /// project's defaults, then <paramref name="settings"/>, then <paramref name="configure"/>.
    /// </summary>
    public static async Task<ServiceHost> StartAsync(IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        var defaults = new Dictionary<string, string?>
        {
            ["urls"] = "http://127.0.0.1:0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        AddProjectDefaults(defaults);
        var app = FiberManagerApp.Create([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(defaults);
            if (settings is not null)
            {
                builder.Configuration.AddInMemoryCollection(settings);
            }

            configure?.Invoke(builder);
        });
        await app.StartAsync().WaitAsync(TestTimeouts.Default);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ServiceHost(app, new Uri(address));
    }

    /// <summary>Disposes <paramref name="disposable"/> with the host (after the clients, before the host stops).</summary>
    public T Own<T>(T disposable)
        where T : IDisposable
    {
        lock (_owned)
        {
            _owned.Add(disposable);
        }

        return disposable;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        lock (_owned)
        {
            foreach (var disposable in _owned)
            {
                disposable.Dispose();
            }

            _owned.Clear();
        }

        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await App.DisposeAsync();
    }

    /// <summary>Settings a test project applies to every host it starts (before the test's own).</summary>
    static partial void AddProjectDefaults(IDictionary<string, string?> settings);
}

public static class TestTimeouts
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(30);

    public static Task DefaultTimeout(this Task task) => task.WaitAsync(Default);

    public static Task<T> DefaultTimeout<T>(this Task<T> task) => task.WaitAsync(Default);
}
