using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace FiberManager.Client;

/// <summary>Registers <see cref="FiberManagerClient"/> in DI.</summary>
public static class FiberManagerClientServiceCollectionExtensions
{
    /// <summary>Registers one shared <see cref="FiberManagerClient"/> (one connection pool) configured by <paramref name="configure"/>.</summary>
    /// <example><code>services.AddFiberManagerClient(o => o.Address = new Uri("http://fibermanager:50051"));</code></example>
    public static IServiceCollection AddFiberManagerClient(this IServiceCollection services, Action<FiberManagerClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = services.AddOptions<FiberManagerClientOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddSingleton(provider => new FiberManagerClient(provider.GetRequiredService<IOptions<FiberManagerClientOptions>>().Value));
        return services;
    }
}
