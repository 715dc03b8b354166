using System.Diagnostics;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Service.Telemetry;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using StatusCode = Grpc.Core.StatusCode;

namespace FiberManager.Telemetry.Tests;

/// <summary>
/// The service's traces and metrics as an application exports them: the real service on Kestrel, a
/// host that adds <c>AddOpenTelemetry()</c> with OpenTelemetry's in-memory exporters, and
/// <c>AddFiberManagerService</c>'s instrumentation joining those providers.
/// </summary>
public sealed class ServiceTelemetryTests : IAsyncLifetime
{
    private const string Service = "fibermanager.v1.FiberManager";

    private readonly ExportedItems<Activity> _spans = new();
    private readonly ExportedMetrics _metrics;
    private ServiceHost _host = null!;

    public ServiceTelemetryTests() => _metrics = new ExportedMetrics(() => _host.App.Services.GetRequiredService<MeterProvider>());

    public async Task InitializeAsync() => _host = await ServiceHost.StartAsync(configure: builder => builder.Services.AddOpenTelemetry()
        .WithTracing(tracing => tracing.AddInMemoryExporter(_spans))
        .WithMetrics(metrics => metrics.AddInMemoryExporter(_metrics.Items, ExportedMetrics.ReadOnDemand)));

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Rpc_ProducesServerSpan_ChildOfTraceparent_WithStatusCode()
    {
        var caller = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        await _host.Client.StartAsync("span-start-1", "echo", options: WithTraceparent(caller));

        var span = await _spans.WaitForAsync(a => a.DisplayName == $"{Service}/Start" && a.TraceId == caller.TraceId);
        Assert.Equal(ActivityKind.Server, span.Kind);
        Assert.Equal(caller.SpanId, span.ParentSpanId);
        Assert.Equal("grpc", span.GetTagItem(ServiceTelemetryNames.RpcSystemTag));
        Assert.Equal(Service, span.GetTagItem(ServiceTelemetryNames.RpcServiceTag));
        Assert.Equal("Start", span.GetTagItem(ServiceTelemetryNames.RpcMethodTag));
        Assert.Equal((int)StatusCode.OK, span.GetTagItem(ServiceTelemetryNames.RpcGrpcStatusCodeTag));
        Assert.NotEqual(ActivityStatusCode.Error, span.Status);
        Assert.Null(span.GetTagItem("grpc.method"));
        Assert.Null(span.GetTagItem("grpc.status_code"));

        var duration = Assert.Single(_metrics.For(ServiceTelemetryNames.RpcServerDuration), m => m.Tag(ServiceTelemetryNames.RpcMethodTag) == "Start");
        Assert.Equal(1, duration.HistogramCount);
        Assert.Equal(ServiceTelemetryNames.SourceName, duration.Metric.MeterName);
        Assert.Equal("s", duration.Metric.Unit);
        Assert.False(string.IsNullOrEmpty(duration.Metric.Description));
        Assert.Equal("grpc", duration.Tag(ServiceTelemetryNames.RpcSystemTag));
        Assert.Equal(Service, duration.Tag(ServiceTelemetryNames.RpcServiceTag));
        Assert.Equal("0", duration.Tag(ServiceTelemetryNames.RpcGrpcStatusCodeTag));
    }

    [Fact]
    public async Task FailingRpc_RecordsStatusCode_AndErrorStatus()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => _host.Client.GetStatusAsync("no-such-fiber-1"));
        Assert.Equal(StatusCode.NotFound, error.StatusCode);

        var span = await _spans.WaitForAsync(a => a.DisplayName == $"{Service}/GetStatus");
        Assert.Equal((int)StatusCode.NotFound, span.GetTagItem(ServiceTelemetryNames.RpcGrpcStatusCodeTag));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        Assert.Contains(_metrics.For(ServiceTelemetryNames.RpcServerDuration), m =>
            m.Tag(ServiceTelemetryNames.RpcMethodTag) == "GetStatus" && m.Tag(ServiceTelemetryNames.RpcGrpcStatusCodeTag) == "5");
    }

    [Fact]
    public async Task WorkflowSpan_LinksToTheSubmitThatCarriedTheInput_AndNoTagCarriesTheFiberId()
    {
        const string fiberId = "linked-fiber-8231";
        await _host.Client.StartAsync(fiberId, "echo");
        var caller = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        await _host.Client.SubmitAsync(fiberId, Value.ForString("hello"), WithTraceparent(caller));

        var submit = await _spans.WaitForAsync(a => a.DisplayName == $"{Service}/Submit" && a.TraceId == caller.TraceId);
        var process = await _spans.WaitForAsync(a => a.DisplayName == ServiceTelemetryNames.WorkflowProcess
            && a.Links.Any(l => l.Context.TraceId == submit.TraceId && l.Context.SpanId == submit.SpanId));
        Assert.Equal("echo", process.GetTagItem(ServiceTelemetryNames.WorkflowTag));
        Assert.NotEqual(submit.TraceId, process.TraceId);

        foreach (var span in _spans.Snapshot())
        {
            Assert.DoesNotContain(span.TagObjects, t => Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture)!.Contains(fiberId, StringComparison.Ordinal));
        }

        foreach (var measurement in _metrics.All())
        {
            Assert.DoesNotContain(measurement.Tags.Values, v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!.Contains(fiberId, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task HostsMeterProvider_GetsTheManagersTheServicesAndAspNetCoresMeters()
    {
        await _host.Client.StartAsync("metered-1", "echo");
        await _host.Client.SubmitAsync("metered-1", Value.ForNumber(1));

        Assert.Contains(_metrics.For(FiberManager.Core.Management.FiberSupervisorTelemetryNames.Submits), p =>
            p.Tag(FiberManager.Core.Management.FiberSupervisorTelemetryNames.ResultTag) == "accepted" && p.Value == 1);
        var meters = _metrics.All().Select(p => p.Metric.MeterName).ToHashSet(StringComparer.Ordinal);
        Assert.Superset(
            new HashSet<string>(StringComparer.Ordinal)
            {
                FiberManager.Core.Management.FiberSupervisorTelemetryNames.MeterName,
                ServiceTelemetryNames.SourceName,
                "Microsoft.AspNetCore.Hosting",
                "Microsoft.AspNetCore.Server.Kestrel",
                "System.Runtime",
            },
            meters);
    }

    private static CallOptions WithTraceparent(ActivityContext context) => new(
        headers: new Metadata { { "traceparent", $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-01" } });
}
