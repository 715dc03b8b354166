using Grpc.Net.ClientFactory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Stub = FiberManager.Protocol.V1.FiberManager.FiberManagerClient;

namespace FiberManager.Client;

/// <summary>Registers <see cref="FiberManagerClient"/> in DI, through the gRPC client factory (Grpc.Net.ClientFactory).</summary>
public static class FiberManagerClientServiceCollectionExtensions
{
    /// <summary>The gRPC client factory's name of the channel that never retries.</summary>
    internal const string ChannelName = "FiberManager";

    /// <summary>The gRPC client factory's name of the channel that retries Start and Submit with ids on UNAVAILABLE.</summary>
    internal const string IdempotentChannelName = "FiberManager.Idempotent";

    /// <summary>
    /// Registers <see cref="FiberManagerClient"/> (transient, like every client of the gRPC client
    /// factory: inject it where needed; the factory pools the connections), configured by
    /// <paramref name="configure"/>. The options are checked when the host starts.
    /// </summary>
    /// <example><code>services.AddFiberManagerClient(o => o.Address = new Uri("http://fibermanager:50051"));</code></example>
    public static IServiceCollection AddFiberManagerClient(this IServiceCollection services, Action<FiberManagerClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<FiberManagerClientOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(ClientSettings)))
        {
            return services; // registered before: this call only adds its configuration
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FiberManagerClientOptions>, OptionsValidator>());
        services.TryAddSingleton(provider => ClientSettings.From(provider.GetRequiredService<IOptions<FiberManagerClientOptions>>().Value));

        AddChannel(services, IdempotentChannelName, idempotent: true);
        AddChannel(services, ChannelName, idempotent: false);
        services.TryAddTransient(provider =>
        {
            var factory = provider.GetRequiredService<GrpcClientFactory>();
            return new FiberManagerClient(
                factory.CreateClient<Stub>(ChannelName),
                factory.CreateClient<Stub>(IdempotentChannelName),
                provider.GetRequiredService<ClientSettings>());
        });
        return services;
    }

    private static void AddChannel(IServiceCollection services, string name, bool idempotent) =>
        services.AddGrpcClient<Stub>(name, (provider, factory) => factory.Address = provider.GetRequiredService<ClientSettings>().Address)
            .ConfigurePrimaryHttpMessageHandler(provider => FiberManagerChannels.CreateHandler(provider.GetRequiredService<ClientSettings>()))
            .ConfigureChannel((provider, channel) => FiberManagerChannels.Configure(channel, provider.GetRequiredService<ClientSettings>(), idempotent))
            .AddInterceptor(provider => new CallDefaultsInterceptor(provider.GetRequiredService<ClientSettings>()));

    /// <summary>Fails with every problem of the options, by name.</summary>
    private sealed class OptionsValidator : IValidateOptions<FiberManagerClientOptions>
    {
        public ValidateOptionsResult Validate(string? name, FiberManagerClientOptions options)
        {
            var errors = options.GetErrors();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => "FiberManagerClientOptions: " + e));
        }
    }
}
