using System.Collections.Concurrent;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FiberManager.Telemetry.Tests;

public sealed class OtlpExportEndToEndTests
{
    [Fact]
    public async Task Service_WithOtlpEndpoint_ExportsTracesAndMetricsOverHttpProtobuf()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "fibermanager-e2e",
            ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        });
        await using (host)
        {
            Assert.NotNull(host.App.Services.GetRequiredService<FiberManager.Service.Telemetry.OtlpTelemetry>().TracerProvider);
            await host.Client.StartAsync("e2e-1", "echo");
            await host.Client.SubmitAsync("e2e-1", Value.ForNumber(1));

            var traces = await receiver.WaitForAsync("/v1/traces", "fibermanager.v1.FiberManager/Submit");
            Assert.Equal("application/x-protobuf", traces.ContentType);
            Assert.Contains("fibermanager-e2e", traces.Text, StringComparison.Ordinal);
            Assert.Contains("deployment.environment", traces.Text, StringComparison.Ordinal);

            var metrics = await receiver.WaitForAsync("/v1/metrics", "rpc.server.duration");
            Assert.Equal("application/x-protobuf", metrics.ContentType);
            await receiver.WaitForAsync("/v1/metrics", "fibermanager.submits");
            await receiver.WaitForAsync("/v1/metrics", "fibermanager.permits.in_use");
        }
    }

    private sealed record OtlpPost(string Path, string? ContentType, byte[] Body)
    {
        /// <summary>The body as Latin-1: protobuf strings are UTF-8 bytes inside it, so names are found as substrings.</summary>
        public string Text { get; } = Encoding.Latin1.GetString(Body);
    }

    /// <summary>A tiny OTLP/HTTP receiver: accepts POST /v1/traces and /v1/metrics and keeps the bodies.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<OtlpPost> _posts = new();
        private readonly SemaphoreSlim _arrived = new(0);

        private OtlpReceiver(WebApplication app, Uri address)
        {
            _app = app;
            Address = address;
        }

        public Uri Address { get; private set; }

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var receiver = new OtlpReceiver(app, new Uri("http://127.0.0.1"));
            app.Run(receiver.HandleAsync);
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            receiver.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
            return receiver;
        }

        /// <summary>Waits (bounded) for a post to <paramref name="path"/> whose body contains <paramref name="text"/>.</summary>
        public async Task<OtlpPost> WaitForAsync(string path, string text)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                if (_posts.FirstOrDefault(p => p.Path == path && p.Text.Contains(text, StringComparison.Ordinal)) is { } found)
                {
                    return found;
                }

                try
                {
                    await _arrived.WaitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"No OTLP post to {path} containing '{text}' within 30 s (got {_posts.Count} posts: {string.Join(", ", _posts.Select(p => p.Path))}).");
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private async Task HandleAsync(HttpContext http)
        {
            if (!HttpMethods.IsPost(http.Request.Method) || http.Request.Path.Value is not ("/v1/traces" or "/v1/metrics"))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            _posts.Enqueue(new OtlpPost(http.Request.Path.Value, http.Request.ContentType, body.ToArray()));
            _arrived.Release();
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/x-protobuf";
        }
    }
}
