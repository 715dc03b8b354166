using System.Diagnostics;
using FiberManager.Service.Telemetry;
using FiberManager.Client;
using FiberManager.Service.Hosting;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FiberManager.Telemetry.Tests;

public sealed class TelemetryWiringTests
{
    [Fact]
    public async Task WithoutOtelSettings_NoProviderOrExporterIsBuilt_AndNothingListens()
    {
        await using var host = await ServiceHost.StartAsync();
        await host.Client.StartAsync("quiet-1", "echo");
        await host.Client.SubmitAsync("quiet-1", Value.ForNumber(1));

        Assert.Null(host.App.Services.GetService<TracerProvider>());
        Assert.Null(host.App.Services.GetService<MeterProvider>());
        Assert.DoesNotContain(host.App.Services.GetServices<ILoggerProvider>(), p => p.GetType().Namespace!.StartsWith("OpenTelemetry", StringComparison.Ordinal));

        // Nobody listens: no span is made for a workflow, no RPC duration is measured, and ASP.NET
        // Core makes no span per request for an exporter.
        Assert.False(ServiceDiagnostics.Source.HasListeners());
        Assert.False(ServiceDiagnostics.RpcServerDuration.Enabled);
        Assert.Null(WorkflowTracing.StartProcessing(default, "echo"));
        using var aspNetCore = new ActivitySource("Microsoft.AspNetCore");
        Assert.False(aspNetCore.HasListeners());
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4317")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuff")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")]
    public async Task InvalidOtlpSetting_FailsTheStart_WithOneLineNamingIt(string key, string value)
    {
        var settings = new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317", [key] = value };

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => ServiceHost.StartAsync(settings));

        var line = StartupFailures.Describe(failure);
        Assert.StartsWith($"{key} '{value}' is not", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
    }

    [Fact]
    public async Task HostOfYourOwn_ItsTracerProviderGetsTheRpcSpan_AndItsOwnEnrichmentStillRuns()
    {
        var spans = new ExportedItems<Activity>();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new("urls", "http://127.0.0.1:0"), new("Logging:LogLevel:Default", "Warning")]);
        builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing
            .AddAspNetCoreInstrumentation(options => options.EnrichWithHttpResponse = (activity, _) => activity.SetTag("app.enriched", true))
            .AddInMemoryExporter(spans));
        builder.AddFiberManagerService();
        await using var app = builder.Build();
        app.MapFiberManagerService();
        await app.StartAsync().DefaultTimeout();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var client = new FiberManagerClient(new Uri(address));
            await client.StartAsync("own-host-1", "echo").DefaultTimeout();

            var span = await spans.WaitForAsync(a => a.DisplayName == "fibermanager.v1.FiberManager/Start");
            Assert.Equal("Start", span.GetTagItem(ServiceTelemetryNames.RpcMethodTag));
            Assert.Equal(true, span.GetTagItem("app.enriched"));
        }
        finally
        {
            await app.StopAsync().DefaultTimeout();
        }
    }
}
