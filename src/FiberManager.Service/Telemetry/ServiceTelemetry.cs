using System.Diagnostics;
using FiberManager.Core.Management;
using System.Diagnostics.Metrics;

namespace FiberManager.Service.Telemetry;

/// <summary>The service's telemetry names: one meter and activity source name, instrument and tag names as constants.</summary>
/// <remarks>Tags never carry fiber ids.</remarks>
public static class ServiceTelemetryNames
{
    /// <summary>The name of the service's <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
    public const string SourceName = "FiberManager.Service";

    /// <summary>Server-side RPC duration (histogram, seconds).</summary>
    public const string RpcServerDuration = "rpc.server.duration";

    /// <summary>
    /// Events a Subscribe stream could not send because they were larger than the message size
    /// limit, and reported to that subscriber as a one-event gap instead (counter).
    /// </summary>
    public const string SubscribeEventsTooLarge = "fibermanager.subscribe.events_too_large";

    /// <summary>The span a workflow opens around one input; linked to the Submit that carried it.</summary>
    public const string WorkflowProcess = "workflow.process";

    /// <summary>Always <c>grpc</c>.</summary>
    public const string RpcSystemTag = "rpc.system";

    /// <summary>The full service name, e.g. <c>fibermanager.v1.FiberManager</c>.</summary>
    public const string RpcServiceTag = "rpc.service";

    /// <summary>The method name, e.g. <c>Submit</c>.</summary>
    public const string RpcMethodTag = "rpc.method";

    /// <summary>The numeric gRPC status code the call ended with.</summary>
    public const string RpcGrpcStatusCodeTag = "rpc.grpc.status_code";

    /// <summary>The workflow name on <see cref="WorkflowProcess"/> spans.</summary>
    public const string WorkflowTag = "workflow";
}

/// <summary>The service's static <see cref="ActivitySource"/> and <see cref="Meter"/>.</summary>
internal static class ServiceDiagnostics
{
    public static readonly ActivitySource Source = new(ServiceTelemetryNames.SourceName, typeof(ServiceDiagnostics).Assembly.GetName().Version?.ToString());

    public static readonly Meter Meter = new(ServiceTelemetryNames.SourceName, typeof(ServiceDiagnostics).Assembly.GetName().Version?.ToString());

    public static readonly Counter<long> SubscribeEventsTooLarge = Meter.CreateCounter<long>(
        ServiceTelemetryNames.SubscribeEventsTooLarge,
        "{event}",
        "Events larger than the message size limit, sent to a subscriber as a gap covering their sequence.");

    public static readonly Histogram<double> RpcServerDuration = Meter.CreateHistogram(
        ServiceTelemetryNames.RpcServerDuration,
        "s",
        "Duration of gRPC calls on the server, from the request headers to the final status.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 300] });
}

/// <summary>
/// Tracing for workflows: every input carries the trace context of the Submit that delivered it
/// (<see cref="InputItem{T}.SubmitContext"/>, captured by the supervisor from the activity current
/// at Submit: the Submit RPC's span); a workflow opens a <c>workflow.process</c> span per input,
/// linked to it.
/// </summary>
/// <example><code>
/// while (input.TryReadItem(out var item))
/// {
///     using var activity = WorkflowTracing.StartProcessing(item.SubmitContext, "echo");
///     context.Publish(item.Value);
/// }
/// </code></example>
public static class WorkflowTracing
{
    /// <summary>
    /// Starts the <c>workflow.process</c> span (kind Consumer, a root span) for one input, linked to
    /// the Submit that carried it (<paramref name="submitContext"/>; no link when it is
    /// <c>default</c>: the input was submitted outside any span); null when nobody listens.
    /// </summary>
    public static Activity? StartProcessing(ActivityContext submitContext, string workflow)
    {
        if (!ServiceDiagnostics.Source.HasListeners())
        {
            return null;
        }

        ActivityLink[]? links = submitContext == default ? null : [new ActivityLink(submitContext)];

        // Processing is its own trace: the fiber's ambient activity (whatever started it) is not its parent.
        Activity.Current = null;
        return ServiceDiagnostics.Source.StartActivity(
            ActivityKind.Consumer,
            default,
            [new(ServiceTelemetryNames.WorkflowTag, workflow)],
            links,
            name: ServiceTelemetryNames.WorkflowProcess);
    }
}
