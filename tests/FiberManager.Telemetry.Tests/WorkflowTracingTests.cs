using System.Diagnostics;
using FiberManager.Service.Telemetry;

namespace FiberManager.Telemetry.Tests;

public sealed class WorkflowTracingTests
{
    [Fact]
    public void StartProcessing_NobodyListensToTheService_StartsNoSpan()
    {
        // The ambient span every request has when logging is on (ASP.NET Core's), from another source.
        using var other = new ActivitySource("FiberManager.Telemetry.Tests.Ambient");
        using var listener = ListenTo(other.Name);
        using var ambient = other.StartActivity("request");
        Assert.NotNull(ambient);
        Assert.False(ServiceDiagnostics.Source.HasListeners(), "a listener of the service's source was left behind by another test");

        Assert.Null(WorkflowTracing.StartProcessing(ambient.Context, "echo"));
    }

    [Fact]
    public void StartProcessing_SomeoneListens_ARootConsumerSpanLinkedToTheSubmit()
    {
        using var listener = ListenTo(ServiceTelemetryNames.SourceName);
        var submit = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);
        using var ambient = ServiceDiagnostics.Source.StartActivity("fiber");

        using var process = WorkflowTracing.StartProcessing(submit, "echo");

        Assert.NotNull(process);
        Assert.Equal(ServiceTelemetryNames.WorkflowProcess, process.DisplayName);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Null(process.Parent);
        Assert.Equal(default, process.ParentSpanId);
        var link = Assert.Single(process.Links);
        Assert.Equal(submit, link.Context);
        Assert.Equal("echo", process.GetTagItem(ServiceTelemetryNames.WorkflowTag));
    }

    [Fact]
    public void StartProcessing_InputSubmittedOutsideAnySpan_NoLink()
    {
        using var listener = ListenTo(ServiceTelemetryNames.SourceName);

        using var process = WorkflowTracing.StartProcessing(default, "echo");

        Assert.NotNull(process);
        Assert.Empty(process.Links);
    }

    private static ActivityListener ListenTo(string sourceName)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == sourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
