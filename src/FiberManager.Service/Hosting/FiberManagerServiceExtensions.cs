using System.Net;
using FiberManager.Core.Management;
using FiberManager.Service.Grpc;
using FiberManager.Service.Health;
using FiberManager.Service.Reflection;
using FiberManager.Service.Security;
using FiberManager.Service.Telemetry;
using FiberManager.Service.Workflows;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Hosting;

/// <summary>Wires the FiberManager service into an ASP.NET Core host: <see cref="AddFiberManagerService"/>, then <see cref="MapFiberManagerService"/>.</summary>
/// <example>
/// A host of your own, with a workflow of your own:
/// <code>
/// var builder = WebApplication.CreateBuilder(args);
/// builder.AddFiberManagerService();
/// builder.Services.AddWorkflow&lt;UppercaseWorkflow&gt;("upper", "Publishes every text input in upper case.");
/// var app = builder.Build();
/// app.MapFiberManagerService();
/// app.Run();
/// </code>
/// </example>
public static class FiberManagerServiceExtensions
{
    /// <summary>The configuration section of the manager's options.</summary>
    public const string ManagerSection = "FiberManager";

    /// <summary>
    /// Registers the manager (options from <c>FiberManager</c>, validated at start), the gRPC
    /// services on Grpc.AspNetCore (FiberManager, health, server reflection v1 and v1alpha), API
    /// keys, client certificates and the per-key rate limit on ASP.NET Core's authentication,
    /// authorization and rate limiting, the built-in workflows <c>echo</c> and <c>aggregate</c>,
    /// and Kestrel: HTTP/2 on every endpoint, the listen address
    /// <see cref="ServerOptions.DefaultAddress"/> unless one is configured the ASP.NET Core way.
    /// Adds the service's traces and metrics to whatever OpenTelemetry providers the host builds
    /// (<c>AddOpenTelemetry()</c>); builds none itself.
    /// </summary>
    /// <remarks>
    /// "Configured" means <c>urls</c>, <c>http_ports</c>, <c>https_ports</c> or
    /// <c>Kestrel:Endpoints</c> in configuration (<c>--urls</c>, <c>ASPNETCORE_URLS</c>,
    /// <c>UseUrls</c>, ...). A host that adds Kestrel endpoints in code instead should also set
    /// <c>urls</c>, or the service listens on the default address as well.
    /// </remarks>
    public static WebApplicationBuilder AddFiberManagerService(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddFiberManagerInstrumentation();
        AddOptions(builder);

        services.AddSingleton(provider => new FiberSupervisor<V1.Payload, V1.Payload>(
            provider.GetRequiredService<IOptions<FiberSupervisorOptions>>().Value,
            TimeProvider.System,
            provider.GetRequiredService<ILoggerFactory>(),
            provider.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddHostedService<ManagerLifetime>();
        services.AddWorkflow<EchoWorkflow>(EchoWorkflow.Name, "Publishes every input unchanged (JSON or binary). No args.");
        services.AddWorkflow<AggregateWorkflow>(AggregateWorkflow.Name, "Sums JSON numbers in batches: args {\"batch_size\": 10, \"field\": \"amount\"}; publishes {batch, count, sum, mean, min, max} per batch.");

        // gRPC: limits from FiberManager:Server; telemetry outermost, so it sees the status the
        // error mapping (the one place exceptions become statuses) makes of a failure.
        services.AddGrpc();
        services.AddOptions<GrpcServiceOptions>().Configure<IOptions<ServerOptions>>((grpc, server) =>
        {
            grpc.MaxReceiveMessageSize = server.Value.MaxMessageSize;
            grpc.MaxSendMessageSize = server.Value.MaxMessageSize;
            grpc.EnableDetailedErrors = server.Value.DetailedErrors;
            grpc.Interceptors.Add<RpcTelemetryInterceptor>();
            grpc.Interceptors.Add<ErrorMappingInterceptor>();
        });
        services.AddSingleton<RpcTelemetryInterceptor>();
        services.AddSingleton<ErrorMappingInterceptor>();
        services.AddSingleton<FiberManagerGrpcService>();

        // grpc.health.v1 for the server ("") and the FiberManager service, from ASP.NET Core health checks.
        services.AddGrpcHealthChecks(o => o.Services.Map(V1.FiberManager.Descriptor.FullName, static _ => true))
            .AddCheck<HostLifetimeHealthCheck>(HostLifetimeHealthCheck.Name);
        services.AddHostedService<InitialHealthPublisher>();

        ReflectionSchema.Register(services);
        AddSecurity(services);

        services.Configure<HostOptions>(o => o.ShutdownTimeout = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>()?.ShutdownTimeout ?? new ServerOptions().ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(ConfigureKestrel);
        return builder;
    }

    /// <summary>
    /// Maps the FiberManager service (with its access policies), health, reflection, and an answer
    /// for every other request; puts authorization and rate limiting in the pipeline before them.
    /// </summary>
    /// <remarks>
    /// Call it after middleware of your own that must see the calls first. The fallback answers
    /// every request no other endpoint serves (UNIMPLEMENTED for gRPC, a short text otherwise).
    /// </remarks>
    public static WebApplication MapFiberManagerService(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseAuthorization();
        app.UseRateLimiter();
        app.MapGrpcService<FiberManagerGrpcService>().Add(FiberManagerAccess.Apply);
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapFallback(UnroutedRequests.AnswerAsync);
        return app;
    }

    /// <summary>Whether the configuration names a listen address the ASP.NET Core way (then the default is not used).</summary>
    internal static bool HasListenAddress(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["urls"])
        || !string.IsNullOrWhiteSpace(configuration["http_ports"])
        || !string.IsNullOrWhiteSpace(configuration["https_ports"])
        || configuration.GetSection("Kestrel:Endpoints").GetChildren().Any();

    private static void AddOptions(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<FiberSupervisorOptions>()
            .Bind(builder.Configuration.GetSection(ManagerSection), o => o.ErrorOnUnknownConfiguration = false)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<FiberSupervisorOptions>>(new ManagerOptionsValidator(builder.Configuration.GetSection(ManagerSection)));
        services.AddOptions<ServerOptions>()
            .Bind(builder.Configuration.GetSection(ServerOptions.Section), o => o.ErrorOnUnknownConfiguration = false)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServerOptions>>(new ServerOptionsValidator(builder.Configuration.GetSection(ServerOptions.Section)));
        services.AddOptions<SecurityOptions>()
            .Bind(builder.Configuration.GetSection(SecurityOptions.Section), o => o.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
    }

    private static void AddSecurity(IServiceCollection services)
    {
        services.AddSingleton<ApiKeyTable>();
        services.AddSingleton(provider => ClientCertificateAuthorities.From(provider.GetRequiredService<IOptions<ServerOptions>>().Value));
        services.AddSingleton(provider => new ClientCertificateVerdicts(provider.GetRequiredService<ClientCertificateAuthorities>(), TimeProvider.System));
        services.AddSingleton<ICertificateValidationCache>(provider => provider.GetRequiredService<ClientCertificateVerdicts>());

        // Authentication without AddAuthentication()'s data protection (which creates and stores
        // a key ring at start): neither scheme signs or encrypts anything.
        services.AddAuthenticationCore();
        services.AddWebEncoders();
        services.TryAddSingleton(TimeProvider.System);
        new AuthenticationBuilder(services)
            .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddCertificate();
        services.AddOptions<CertificateAuthenticationOptions>(CertificateAuthenticationDefaults.AuthenticationScheme)
            .Configure<ClientCertificateAuthorities>((certificate, authorities) =>
            {
                // The configured CA only (never the machine's store), a chain to it, the
                // client-authentication usage, the validity period; no revocation check.
                certificate.AllowedCertificateTypes = CertificateTypes.Chained;
                certificate.ChainTrustValidationMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                certificate.CustomTrustStore = authorities.Roots;
                certificate.AdditionalChainCertificates = authorities.Intermediates;
                certificate.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                certificate.ValidateCertificateUse = true;
                certificate.ValidateValidityPeriod = true;
                certificate.Events = new CertificateAuthenticationEvents { OnCertificateValidated = ClientCertificateVerdicts.RequireClientAuthenticationUsage };
            });

        services.AddAuthorization();
        services.AddOptions<AuthorizationOptions>().Configure<IOptions<SecurityOptions>, IOptions<ServerOptions>>(
            (authorization, security, server) => FiberManagerAccess.AddPolicies(authorization, security.Value, server.Value));
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, GrpcAuthorizationResultHandler>();
        services.AddRateLimiter(o => o.AddPolicy<string, ApiKeyRateLimiterPolicy>(FiberManagerAccess.RateLimitPolicy));
    }

    private static void ConfigureKestrel(WebHostBuilderContext context, KestrelServerOptions kestrel)
    {
        var configuration = context.Configuration;
        var server = configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        kestrel.AddServerHeader = false;
        kestrel.Limits.Http2.MaxStreamsPerConnection = Math.Max(1, server.MaxStreamsPerConnection);

        // Subscribe and Watch streams are long-lived and may be quiet for a long time.
        kestrel.Limits.MinRequestBodyDataRate = null;
        kestrel.Limits.MinResponseDataRate = null;
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);

        // A stream's body is a sequence of messages, each limited by GrpcServiceOptions.MaxReceiveMessageSize.
        kestrel.Limits.MaxRequestBodySize = null;

        // gRPC is HTTP/2: on a cleartext endpoint, Kestrel's default (HTTP/1.1 and HTTP/2) would
        // silently serve HTTP/1.1 only. Kestrel:EndpointDefaults:Protocols or an endpoint's own
        // Protocols still override this.
        if (string.IsNullOrEmpty(configuration["Kestrel:EndpointDefaults:Protocols"]))
        {
            kestrel.ConfigureEndpointDefaults(static listen => listen.Protocols = HttpProtocols.Http2);
        }

        if (!string.IsNullOrEmpty(server.CertificatePath))
        {
            var certificate = server.LoadCertificate();
            kestrel.ConfigureHttpsDefaults(https =>
            {
                https.ServerCertificate = certificate;
                if (server.ClientCertificateMode != ClientCertificateMode.None)
                {
                    // Ask for a client certificate but never fail the handshake over it: the
                    // certificate authentication handler checks it on every call, and a refused
                    // caller gets UNAUTHENTICATED, a status it can read, not a reset connection.
                    https.ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate;
                    https.AllowAnyClientCertificate();
                    https.CheckCertificateRevocation = false;
                }
            });
        }

        if (!HasListenAddress(configuration))
        {
            kestrel.Listen(IPAddress.Loopback, ServerOptions.DefaultPort);
        }
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

    /// <summary>Checks the values, and that every key under <c>FiberManager:Server</c> is a known option.</summary>
    private sealed class ServerOptionsValidator(IConfigurationSection section) : IValidateOptions<ServerOptions>
    {
        private static readonly HashSet<string> s_known = new(typeof(ServerOptions).GetProperties().Where(p => p.CanWrite).Select(p => p.Name), StringComparer.OrdinalIgnoreCase);

        public ValidateOptionsResult Validate(string? name, ServerOptions options)
        {
            var errors = new List<string>(options.GetErrors());
            foreach (var child in section.GetChildren())
            {
                if (string.Equals(child.Key, "Url", StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"{ServerOptions.Section}:Url is no longer read: set the listen address the ASP.NET Core way (--urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS or Kestrel:Endpoints).");
                }
                else if (!s_known.Contains(child.Key))
                {
                    errors.Add($"{ServerOptions.Section}:{child.Key} is not a FiberManager:Server option (known: {string.Join(", ", s_known.Order(StringComparer.Ordinal))}).");
                }
            }

            return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
        }
    }

    private sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecurityOptions options) =>
            options.GetErrors() is { Count: > 0 } errors ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
