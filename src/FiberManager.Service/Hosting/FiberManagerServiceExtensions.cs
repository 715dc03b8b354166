using FiberManager.Core.Management;
using FiberManager.Service.Grpc;
using FiberManager.Service.Grpc.Health;
using FiberManager.Service.Grpc.Reflection;
using FiberManager.Service.Telemetry;
using FiberManager.Service.Workflows;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Options;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Hosting;

/// <summary>Wires the FiberManager service into an ASP.NET Core host.</summary>
public static class FiberManagerServiceExtensions
{
    /// <summary>The configuration section of the manager's options.</summary>
    public const string ManagerSection = "FiberManager";

    /// <summary>
    /// Registers the manager (options from <c>FiberManager</c>, validated at start), the gRPC
    /// services (FiberManager, health, server reflection v1 and v1alpha), the built-in workflows
    /// <c>echo</c> and <c>aggregate</c>, and Kestrel's HTTP/2 setup.
    /// </summary>
    public static WebApplicationBuilder AddFiberManagerService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddOtlpTelemetry();
        services.AddOptions<FiberSupervisorOptions>()
            .Bind(builder.Configuration.GetSection(ManagerSection), o => o.ErrorOnUnknownConfiguration = false)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<FiberSupervisorOptions>>(new ManagerOptionsValidator(builder.Configuration.GetSection(ManagerSection)));
        services.AddOptions<ServerOptions>()
            .Bind(builder.Configuration.GetSection(ServerOptions.Section), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServerOptions>, ServerOptionsValidator>();
        services.AddOptions<SecurityOptions>()
            .Bind(builder.Configuration.GetSection(SecurityOptions.Section), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        services.AddSingleton(provider => new ApiKeyAuthenticator(provider.GetRequiredService<IOptions<SecurityOptions>>().Value));
        services.AddSingleton(provider => new ClientCertificateAuthenticator(provider.GetRequiredService<IOptions<ServerOptions>>().Value));

        services.AddSingleton(provider => new FiberSupervisor<V1.Payload, V1.Payload>(
            provider.GetRequiredService<IOptions<FiberSupervisorOptions>>().Value,
            TimeProvider.System,
            provider.GetRequiredService<ILoggerFactory>(),
            provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddWorkflow<EchoWorkflow>(EchoWorkflow.Name, "Publishes every input unchanged (JSON or binary). No args.");
        services.AddWorkflow<AggregateWorkflow>(AggregateWorkflow.Name, "Sums JSON numbers in batches: args {\"batch_size\": 10, \"field\": \"amount\"}; publishes {batch, count, sum, mean, min, max} per batch.");
        services.AddSingleton<IGrpcService, FiberManagerRpc>();
        services.AddSingleton<IGrpcService, HealthService>();
        services.AddSingleton(new DescriptorIndex(DescriptorIndex.ServedFiles));
        services.AddSingleton<IGrpcService, ServerReflectionService>();
        services.AddSingleton(provider =>
        {
            var server = provider.GetRequiredService<IOptions<ServerOptions>>().Value;
            var lifetime = provider.GetRequiredService<IHostApplicationLifetime>();
            return new GrpcServerContext(
                new ServerSettings(server.MaxMessageSize, server.DetailedErrors, server.EffectiveMaxInputSize),
                provider.GetRequiredService<ILoggerFactory>().CreateLogger("FiberManager.Service.Grpc"),
                lifetime.ApplicationStopping,
                provider.GetRequiredService<ServerDrain>().Drained,
                provider.GetRequiredService<ApiKeyAuthenticator>(),
                provider.GetRequiredService<ClientCertificateAuthenticator>());
        });
        services.AddSingleton<GrpcMethodTable>();
        services.AddSingleton<ServerDrain>();
        services.AddHostedService<ManagerLifetime>();
        services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>()?.ShutdownTimeout ?? new ServerOptions().ShutdownTimeout);

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var server = context.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
            kestrel.AddServerHeader = false;
            kestrel.Limits.Http2.MaxStreamsPerConnection = Math.Max(1, server.MaxStreamsPerConnection);
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Limits.MaxRequestBodySize = null; // enforced per message, before buffering
            kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            if (!Uri.TryCreate(server.Url, UriKind.Absolute, out var uri))
            {
                return; // reported by option validation at start
            }

            void Configure(ListenOptions listen)
            {
                if (uri.Scheme == Uri.UriSchemeHttps && !string.IsNullOrEmpty(server.CertificatePath))
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = CertificateLoader.Load(server.CertificatePath, server.CertificateKeyPathOrPassword),

                        // mTLS: ask for a client certificate but never fail the handshake over it;
                        // ClientCertificateAuthenticator checks it against the configured CA on
                        // every call and answers UNAUTHENTICATED, a status the client can read.
                        ClientCertificateMode = server.ClientCertificateMode == ClientCertificateMode.None
                            ? Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.NoCertificate
                            : Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
                        ClientCertificateValidation = static (_, _, _) => true,
                        CheckCertificateRevocation = false,
                    });
                }
                else
                {
                    // Cleartext HTTP/2 (h2c) only: Http1AndHttp2 without TLS would silently serve HTTP/1.1.
                    listen.Protocols = HttpProtocols.Http2;
                }
            }

            if (uri.Host is "localhost")
            {
                kestrel.ListenLocalhost(uri.Port, Configure);
            }
            else if (System.Net.IPAddress.TryParse(uri.Host, out var address))
            {
                kestrel.Listen(address, uri.Port, Configure);
            }
            else
            {
                kestrel.ListenAnyIP(uri.Port, Configure);
            }
        });
        return builder;
    }

    /// <summary>Serves every registered gRPC method; everything else gets UNIMPLEMENTED or a short text answer.</summary>
    public static WebApplication MapFiberManagerService(this WebApplication app)
    {
        var table = app.Services.GetRequiredService<GrpcMethodTable>();
        app.Run(table.DispatchAsync);
        return app;
    }

    /// <summary>Checks the values, and that every key under <c>FiberManager</c> is a known option (a typo fails the start instead of being ignored).</summary>
    private sealed class ManagerOptionsValidator(IConfigurationSection section) : IValidateOptions<FiberSupervisorOptions>
    {
        private static readonly HashSet<string> s_known = new(
            typeof(FiberSupervisorOptions).GetProperties().Select(p => p.Name).Append("Server").Append("Security"),
            StringComparer.OrdinalIgnoreCase);

        public ValidateOptionsResult Validate(string? name, FiberSupervisorOptions options)
        {
            var errors = new List<string>(options.GetErrors());
            foreach (var child in section.GetChildren())
            {
                if (!s_known.Contains(child.Key))
                {
                    errors.Add($"{ManagerSection}:{child.Key} is not a FiberManager option (known: {string.Join(", ", s_known.Order(StringComparer.Ordinal))}).");
                }
            }

            return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
        }
    }

    private sealed class ServerOptionsValidator : IValidateOptions<ServerOptions>
    {
        public ValidateOptionsResult Validate(string? name, ServerOptions options) =>
            options.GetErrors() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    private sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecurityOptions options) =>
            options.GetErrors() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
