using System.Diagnostics;
using FiberManager.Protocol.V1;
using FiberManager.Service.Telemetry;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Telemetry.Tests;

public sealed class WorkflowTracingTests
{
    [Fact]
    public void CaptureSubmit_AmbientSpanButNobodyListensToTheService_RemembersNothing()
    {
        // The ambient span every request has when logging is on (ASP.NET Core's), from another source.
        using var other = new ActivitySource("FiberManager.Telemetry.Tests.Ambient");
        using var listener = ListenTo(other.Name);
        using var ambient = other.StartActivity("request");
        Assert.NotNull(ambient);
        Assert.False(ServiceDiagnostics.Source.HasListeners(), "a listener of the service's source was left behind by another test");
        var payload = new Payload { Json = Value.ForString("x") };

        WorkflowTracing.CaptureSubmit(payload);

        Assert.False(WorkflowTracing.IsCaptured(payload));
    }

    [Fact]
    public void CaptureSubmit_SomeoneListensToTheService_RemembersTheSubmitSpan()
    {
        using var listener = ListenTo(ServiceTelemetryNames.SourceName);
        using var submit = ServiceDiagnostics.Source.StartActivity("Submit");
        Assert.NotNull(submit);
        var payload = new Payload { Json = Value.ForString("x") };

        WorkflowTracing.CaptureSubmit(payload);

        Assert.True(WorkflowTracing.IsCaptured(payload));
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
