using System.Net;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FiberManager.Telemetry.Tests;

/// <summary>
/// The service's own host with the standard <c>OTEL_*</c> settings, exporting to a collector the
/// test runs on loopback: OTLP over HTTP (protobuf) and over gRPC, the base endpoint and the
/// per-signal ones.
/// </summary>
public sealed class OtlpExportEndToEndTests
{
    private const string SubmitSpan = "fibermanager.v1.FiberManager/Submit";

    [Fact]
    public async Task Service_WithOtlpEndpoint_ExportsTracesMetricsAndLogsOverHttpProtobuf()
    {
        await using var receiver = await OtlpReceiver.StartAsync(HttpProtocols.Http1);
        var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "fibermanager-e2e",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        });
        await using (host)
        {
            Assert.NotNull(host.App.Services.GetService<TracerProvider>());
            Assert.NotNull(host.App.Services.GetService<MeterProvider>());
            await host.Client.StartAsync("e2e-1", "echo");
            await host.Client.SubmitAsync("e2e-1", Value.ForNumber(1));

            // The base endpoint gets each signal's path appended (the specification's rule, the SDK's doing).
            var traces = await receiver.WaitForAsync("/v1/traces", SubmitSpan);
            Assert.Equal("application/x-protobuf", traces.ContentType);
            Assert.True(traces.HasStringAttribute("service.name", "fibermanager-e2e"), "service.name is OTEL_SERVICE_NAME");
            Assert.True(traces.HasStringAttribute("deployment.environment", "test"), "OTEL_RESOURCE_ATTRIBUTES are on the resource");
            await receiver.WaitForAsync("/v1/traces", "workflow.process");

            var metrics = await receiver.WaitForAsync("/v1/metrics", "rpc.server.duration");
            Assert.Equal("application/x-protobuf", metrics.ContentType);
            await receiver.WaitForAsync("/v1/metrics", "fibermanager.submits");
            await receiver.WaitForAsync("/v1/metrics", "fibermanager.permits.in_use");
            await receiver.WaitForAsync("/v1/metrics", "http.server.active_requests");

            await receiver.WaitForAsync("/v1/logs", "Application started");
        }
    }

    [Fact]
    public async Task Service_WithSignalEndpointsOnly_ExportsEachSignalToItsOwnEndpoint_WithTheDefaultServiceName()
    {
        await using var receiver = await OtlpReceiver.StartAsync(HttpProtocols.Http1);
        var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = new Uri(receiver.Address, "/collector/spans").ToString(),
            ["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = new Uri(receiver.Address, "/collector/points").ToString(),
            ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] = new Uri(receiver.Address, "/collector/records").ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        await using (host)
        {
            await host.Client.StartAsync("e2e-2", "echo");
            await host.Client.SubmitAsync("e2e-2", Value.ForNumber(2));

            // A signal's own endpoint is used as it is, no path appended.
            var traces = await receiver.WaitForAsync("/collector/spans", SubmitSpan);
            Assert.True(traces.HasStringAttribute("service.name", "fibermanager"), "service.name defaults to fibermanager");
            await receiver.WaitForAsync("/collector/points", "rpc.server.duration");
        }
    }

    [Fact]
    public async Task Service_WithGrpcOtlpEndpoint_ExportsTracesAndMetricsOverGrpc()
    {
        await using var receiver = await OtlpReceiver.StartAsync(HttpProtocols.Http2);
        var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "grpc",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        await using (host)
        {
            await host.Client.StartAsync("e2e-3", "echo");
            await host.Client.SubmitAsync("e2e-3", Value.ForNumber(3));

            var traces = await receiver.WaitForAsync($"/{OtlpCollectorService.Traces}/Export", SubmitSpan);
            Assert.Equal("application/grpc", traces.ContentType);
            await receiver.WaitForAsync($"/{OtlpCollectorService.Metrics}/Export", "rpc.server.duration");
        }
    }

    /// <summary>
    /// A tiny OTLP collector on loopback that keeps what it receives: over HTTP/1.1, a POST to any
    /// path (OTLP/HTTP); over HTTP/2, the three collector services' <c>Export</c> (OTLP/gRPC, on
    /// grpc-dotnet, the messages kept as bytes).
    /// </summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ExportedItems<OtlpPost> _posts;

        private OtlpReceiver(WebApplication app, Uri address, ExportedItems<OtlpPost> posts)
        {
            _app = app;
            Address = address;
            _posts = posts;
        }

        public Uri Address { get; }

        public static async Task<OtlpReceiver> StartAsync(HttpProtocols protocols)
        {
            var posts = new ExportedItems<OtlpPost>();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols));
            builder.Services.AddGrpc();
            builder.Services.AddSingleton(new OtlpCollectorService(posts));
            var app = builder.Build();
            app.MapGrpcService<OtlpCollectorService>();
            app.MapFallback(async http =>
            {
                using var body = new MemoryStream();
                await http.Request.Body.CopyToAsync(body);
                posts.Add(new OtlpPost(http.Request.Path.Value ?? "/", http.Request.ContentType, body.ToArray()));
                http.Response.StatusCode = StatusCodes.Status200OK;
                http.Response.ContentType = "application/x-protobuf";
            });
            await app.StartAsync().DefaultTimeout();
            var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return new OtlpReceiver(app, address, posts);
        }

        /// <summary>Waits (bounded) for a post to <paramref name="path"/> whose body contains <paramref name="text"/>.</summary>
        public Task<OtlpPost> WaitForAsync(string path, string text) =>
            _posts.WaitForAsync(p => p.Path == path && p.Text.Contains(text, StringComparison.Ordinal));

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync().DefaultTimeout();
            await _app.DisposeAsync();
        }
    }
}
