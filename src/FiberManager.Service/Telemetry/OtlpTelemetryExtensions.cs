using System.Globalization;
using FiberManager.Core.Management;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// Exports the service's metrics and traces over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is
/// set (environment or any configuration source); adds nothing otherwise. Reads the standard
/// variables: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>
/// (<c>grpc</c> or <c>http/protobuf</c>), <c>OTEL_EXPORTER_OTLP_HEADERS</c>,
/// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>, <c>OTEL_METRIC_EXPORT_INTERVAL</c>
/// and <c>OTEL_BSP_SCHEDULE_DELAY</c> (milliseconds).
/// </summary>
internal static class OtlpTelemetryExtensions
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters exported: the manager's, the service's, and ASP.NET Core's and the runtime's own.</summary>
    public static readonly string[] Meters =
    [
        FiberSupervisorTelemetryNames.MeterName,
        ServiceTelemetryNames.SourceName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
    ];

    /// <summary>
    /// Registers <see cref="OtlpTelemetry"/>, which decides when the host starts (once every
    /// configuration source is in): with no endpoint it creates nothing.
    /// </summary>
    public static void AddOtlpTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<OtlpTelemetry>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<OtlpTelemetry>());
    }

    internal static TracerProvider? BuildTracerProvider(IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration[EndpointKey]) ? null : BuildTracerProviderCore(configuration);

    internal static MeterProvider? BuildMeterProvider(IConfiguration configuration) =>
        string.IsNullOrWhiteSpace(configuration[EndpointKey]) ? null : BuildMeterProviderCore(configuration);

    private static TracerProvider BuildTracerProviderCore(IConfiguration configuration) =>
        Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(Resource(configuration))
            .AddSource(ServiceTelemetryNames.SourceName)
            .AddOtlpExporter(o =>
            {
                Configure(o, configuration, "traces");
                if (Milliseconds(configuration, "OTEL_BSP_SCHEDULE_DELAY") is { } delay)
                {
                    o.BatchExportProcessorOptions.ScheduledDelayMilliseconds = delay;
                }
            })
            .Build();

    private static MeterProvider BuildMeterProviderCore(IConfiguration configuration) =>
        Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(Resource(configuration))
            .AddMeter(Meters)
            .AddOtlpExporter((o, reader) =>
            {
                Configure(o, configuration, "metrics");
                if (Milliseconds(configuration, "OTEL_METRIC_EXPORT_INTERVAL") is { } interval)
                {
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = interval;
                }
            })
            .Build();

    /// <summary>
    /// The exporter reads the environment itself; configuration (which includes the environment)
    /// is applied on top so that command-line and file settings work the same way.
    /// </summary>
    private static void Configure(OtlpExporterOptions options, IConfiguration configuration, string signal)
    {
        if (configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] is { Length: > 0 } protocol)
        {
            options.Protocol = protocol.Trim().ToLowerInvariant() switch
            {
                "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
                "grpc" => OtlpExportProtocol.Grpc,
                _ => throw new InvalidOperationException($"OTEL_EXPORTER_OTLP_PROTOCOL '{protocol}' is not supported (grpc or http/protobuf)."),
            };
        }

        var signalEndpoint = configuration[$"OTEL_EXPORTER_OTLP_{signal.ToUpperInvariant()}_ENDPOINT"];
        if (!string.IsNullOrWhiteSpace(signalEndpoint))
        {
            options.Endpoint = new Uri(signalEndpoint);
        }
        else if (configuration[EndpointKey] is { Length: > 0 } endpoint)
        {
            // The base endpoint: over HTTP the signal's path is appended (as the specification says).
            options.Endpoint = options.Protocol == OtlpExportProtocol.HttpProtobuf
                ? new Uri(endpoint.TrimEnd('/') + "/v1/" + signal)
                : new Uri(endpoint);
        }

        if (configuration["OTEL_EXPORTER_OTLP_HEADERS"] is { Length: > 0 } headers)
        {
            options.Headers = headers;
        }
    }

    private static ResourceBuilder Resource(IConfiguration configuration)
    {
        var resource = ResourceBuilder.CreateDefault()
            .AddService(configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "fibermanager");
        if (configuration["OTEL_RESOURCE_ATTRIBUTES"] is { Length: > 0 } attributes)
        {
            var pairs = new List<KeyValuePair<string, object>>();
            foreach (var pair in attributes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals > 0)
                {
                    pairs.Add(new(Uri.UnescapeDataString(pair[..equals].Trim()), Uri.UnescapeDataString(pair[(equals + 1)..].Trim())));
                }
            }

            resource.AddAttributes(pairs);
        }

        return resource;
    }

    private static int? Milliseconds(IConfiguration configuration, string key) =>
        int.TryParse(configuration[key], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;
}

/// <summary>
/// The OTLP metrics and traces providers, created when the host starts if
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and disposed (which flushes them) with the container.
/// </summary>
internal sealed class OtlpTelemetry(IConfiguration configuration) : IHostedService, IDisposable
{
    /// <summary>The traces provider; null when no endpoint is configured.</summary>
    public TracerProvider? TracerProvider { get; private set; }

    /// <summary>The metrics provider; null when no endpoint is configured.</summary>
    public MeterProvider? MeterProvider { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        TracerProvider ??= OtlpTelemetryExtensions.BuildTracerProvider(configuration);
        MeterProvider ??= OtlpTelemetryExtensions.BuildMeterProvider(configuration);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        MeterProvider?.Dispose();
        TracerProvider?.Dispose();
    }
}
