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
        FiberManagerTelemetryNames.MeterName,
        ServiceTelemetryNames.SourceName,
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
    ];

    public static void AddOtlpTelemetry(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (string.IsNullOrWhiteSpace(configuration[EndpointKey]))
        {
            return;
        }

        builder.Services.AddSingleton(_ => BuildTracerProvider(configuration));
        builder.Services.AddSingleton(_ => BuildMeterProvider(configuration));
        builder.Services.AddHostedService<TelemetryProviders>();
    }

    private static TracerProvider BuildTracerProvider(IConfiguration configuration) =>
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

    private static MeterProvider BuildMeterProvider(IConfiguration configuration) =>
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

    /// <summary>Creates both providers when the host starts; the container disposes them (flushing) on shutdown.</summary>
    private sealed class TelemetryProviders(TracerProvider tracerProvider, MeterProvider meterProvider) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = tracerProvider;
            _ = meterProvider;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
