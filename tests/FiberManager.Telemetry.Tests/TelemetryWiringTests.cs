using System.Diagnostics;
using FiberManager.Service.Telemetry;
using Google.Protobuf.WellKnownTypes;
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
        Assert.Null(WorkflowTracing.StartProcessing(new FiberManager.Protocol.V1.Payload { Json = Value.ForNumber(1) }, "echo"));
        using var aspNetCore = new ActivitySource("Microsoft.AspNetCore");
        Assert.False(aspNetCore.HasListeners());
    }
}
