using System.Diagnostics;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Service.Telemetry;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Telemetry.Tests;

public sealed class ServiceTelemetryTests : IAsyncLifetime
{
    private const string Service = "fibermanager.v1.FiberManager";

    private readonly ActivityCollector _spans = new(ServiceTelemetryNames.SourceName);
    private readonly MetricCollector _metrics = new(i => i.Meter.Name == ServiceTelemetryNames.SourceName);
    private ServiceHost _host = null!;

    public async Task InitializeAsync() => _host = await ServiceHost.StartAsync();

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _spans.Dispose();
        _metrics.Dispose();
    }

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

        var duration = Assert.Single(_metrics.For(ServiceTelemetryNames.RpcServerDuration), m => m.Tag(ServiceTelemetryNames.RpcMethodTag) == "Start");
        Assert.Equal("s", duration.Instrument.Unit);
        Assert.False(string.IsNullOrEmpty(duration.Instrument.Description));
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

        foreach (var span in _spans.Stopped)
        {
            Assert.DoesNotContain(span.TagObjects, t => Convert.ToString(t.Value, System.Globalization.CultureInfo.InvariantCulture)!.Contains(fiberId, StringComparison.Ordinal));
        }

        foreach (var measurement in _metrics.Measurements)
        {
            Assert.DoesNotContain(measurement.Tags.Values, v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!.Contains(fiberId, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void WithoutOtlpEndpoint_NoProvidersAreRegistered()
    {
        var telemetry = _host.App.Services.GetRequiredService<OtlpTelemetry>();
        Assert.Null(telemetry.TracerProvider);
        Assert.Null(telemetry.MeterProvider);
    }

    private static CallOptions WithTraceparent(ActivityContext context) => new(
        headers: new Metadata { { "traceparent", $"00-{context.TraceId.ToHexString()}-{context.SpanId.ToHexString()}-01" } });
}
