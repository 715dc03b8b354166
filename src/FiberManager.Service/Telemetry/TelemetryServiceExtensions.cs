using FiberManager.Core.Management;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// The service's OpenTelemetry wiring, on OpenTelemetry.Extensions.Hosting: what is instrumented
/// (<see cref="AddFiberManagerInstrumentation"/>, in every host) and, in the service's own host,
/// where it goes (<see cref="AddOtlpExportWhenConfigured"/>).
/// </summary>
internal static class TelemetryServiceExtensions
{
    /// <summary>The <c>service.name</c> when neither <c>OTEL_SERVICE_NAME</c> nor <c>OTEL_RESOURCE_ATTRIBUTES</c> names one.</summary>
    internal const string DefaultServiceName = "fibermanager";

    /// <summary>The standard variables that name where OTLP goes: the base endpoint, or one per signal.</summary>
    internal static readonly string[] OtlpEndpointKeys =
    [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ];

    /// <summary>The standard variables that name the OTLP protocol: for every signal, or one per signal.</summary>
    internal static readonly string[] OtlpProtocolKeys =
    [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    ];

    /// <summary>
    /// The meters the service's metrics come from (besides ASP.NET Core's, which the ASP.NET Core
    /// instrumentation adds): the manager's, the service's own and the .NET runtime's.
    /// </summary>
    internal static readonly string[] Meters =
    [
        FiberSupervisorTelemetryNames.MeterName,
        ServiceTelemetryNames.SourceName,
        "System.Runtime",
    ];

    /// <summary>
    /// Adds the service's activity source and meters, and ASP.NET Core's request instrumentation
    /// (its span of a gRPC call made the RPC span by <see cref="RpcSpan"/>), to the tracer and
    /// meter providers the host builds (through <c>ConfigureOpenTelemetryTracerProvider</c> and
    /// <c>ConfigureOpenTelemetryMeterProvider</c>, meant for libraries). Builds no provider itself:
    /// with no <c>AddOpenTelemetry()</c> in the host nothing listens, and telemetry costs nothing.
    /// </summary>
    /// <remarks>
    /// An <c>EnrichWithHttpResponse</c> callback configured before this one still runs, first.
    /// </remarks>
    internal static void AddFiberManagerInstrumentation(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing
            .AddSource(ServiceTelemetryNames.SourceName)
            .AddAspNetCoreInstrumentation(options =>
            {
                var earlier = options.EnrichWithHttpResponse;
                options.EnrichWithHttpResponse = earlier is null ? RpcSpan.Enrich : (activity, response) =>
                {
                    earlier(activity, response);
                    RpcSpan.Enrich(activity, response);
                };
            }));
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics
            .AddMeter(Meters)
            .AddAspNetCoreInstrumentation());
    }

    /// <summary>
    /// Exports traces, metrics and logs over OTLP when one of <see cref="OtlpEndpointKeys"/> is set
    /// in the configuration (which includes the environment); registers nothing otherwise. Every
    /// other setting is the OpenTelemetry SDK's own (<c>UseOtlpExporter</c> reads the standard
    /// variables: protocol, headers, timeouts, the per-signal overrides, the batch and export
    /// intervals); the resource is <c>service.name</c> <see cref="DefaultServiceName"/>, replaced by
    /// <c>OTEL_RESOURCE_ATTRIBUTES</c> and <c>OTEL_SERVICE_NAME</c>.
    /// </summary>
    /// <remarks>
    /// Called by the service's own host after every configuration source is in. A host of your own
    /// that calls <c>AddFiberManagerService</c> chooses its exporters itself (for example
    /// <c>builder.Services.AddOpenTelemetry().UseOtlpExporter()</c>, which may be called only once
    /// per container): the service's instrumentation joins whatever providers it builds.
    /// </remarks>
    /// <exception cref="InvalidOperationException">An endpoint is not an http(s) URL, or a protocol is neither <c>grpc</c> nor <c>http/protobuf</c>.</exception>
    internal static void AddOtlpExportWhenConfigured(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (!OtlpEndpointKeys.Any(key => !string.IsNullOrWhiteSpace(configuration[key])))
        {
            return;
        }

        ThrowIfInvalid(configuration);

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource
                .Clear()
                .AddService(DefaultServiceName)
                .AddTelemetrySdk()
                .AddEnvironmentVariableDetector())
            .UseOtlpExporter();
    }

    /// <summary>
    /// Fails the start on an endpoint or protocol the exporter cannot use. The SDK treats an invalid
    /// value as unset (as the specification asks) and reports it on its EventSource only, so a
    /// typo would send telemetry to the default endpoint, or over the wrong protocol, without a
    /// word; the service refuses it with one line instead, as it does for its own options. The
    /// SDK still reads every value itself.
    /// </summary>
    private static void ThrowIfInvalid(IConfiguration configuration)
    {
        foreach (var key in OtlpEndpointKeys)
        {
            if (configuration[key] is { } endpoint && !string.IsNullOrWhiteSpace(endpoint)
                && !(Uri.TryCreate(endpoint.Trim(), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
            {
                throw new InvalidOperationException($"{key} '{endpoint}' is not an http:// or https:// URL (e.g. http://otel-collector:4317).");
            }
        }

        foreach (var key in OtlpProtocolKeys)
        {
            if (configuration[key] is { } protocol && !string.IsNullOrWhiteSpace(protocol) && protocol.Trim() is not ("grpc" or "http/protobuf"))
            {
                throw new InvalidOperationException($"{key} '{protocol}' is not an OTLP protocol the service exports with (grpc or http/protobuf).");
            }
        }
    }
}
