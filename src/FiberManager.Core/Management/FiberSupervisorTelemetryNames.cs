using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FiberManager.Core.Management;

/// <summary>The names the manager's metrics use: one meter, instrument and tag names as constants.</summary>
/// <remarks>Tags carry the workflow name and small enumerations, never a fiber id (ids are unbounded).</remarks>
public static class FiberSupervisorTelemetryNames
{
    /// <summary>The name of the manager's <see cref="Meter"/>.</summary>
    public const string MeterName = "FiberManager";

    /// <summary>Fibers by status (observable gauge, tag <see cref="StatusTag"/>).</summary>
    public const string Fibers = "fibermanager.fibers";

    /// <summary>Permits held by running fibers (observable gauge).</summary>
    public const string PermitsInUse = "fibermanager.permits.in_use";

    /// <summary>The concurrency limit (observable gauge).</summary>
    public const string PermitsLimit = "fibermanager.permits.limit";

    /// <summary>Fibers waiting for a permit (observable gauge).</summary>
    public const string PermitsWaiting = "fibermanager.permits.waiting";

    /// <summary>The input queue depth seen by each accepted Submit (histogram).</summary>
    public const string InputQueueDepth = "fibermanager.input.queue_depth";

    /// <summary>Submits by result (counter, tag <see cref="ResultTag"/>).</summary>
    public const string Submits = "fibermanager.submits";

    /// <summary>Outputs published by workflows (counter).</summary>
    public const string OutputsPublished = "fibermanager.outputs.published";

    /// <summary>Gaps delivered to subscribers: events a subscriber missed (counter).</summary>
    public const string Gaps = "fibermanager.gaps";

    /// <summary>Fibers that ended (counter, tags <see cref="ExitTag"/> and <see cref="AbandonedTag"/>).</summary>
    public const string Terminations = "fibermanager.terminations";

    /// <summary>Workflow restarts after a failure (counter).</summary>
    public const string Restarts = "fibermanager.restarts";

    /// <summary>The workflow name.</summary>
    public const string WorkflowTag = "workflow";

    /// <summary>A fiber status, lower case (<c>running</c>, <c>paused</c>, …).</summary>
    public const string StatusTag = "status";

    /// <summary>A Submit's result: <c>accepted</c>, <c>rejected</c> or <c>duplicate</c>.</summary>
    public const string ResultTag = "result";

    /// <summary>How a fiber ended: <c>completed</c>, <c>failed</c> or <c>interrupted</c>.</summary>
    public const string ExitTag = "exit";

    /// <summary><c>true</c> when the workflow ignored cancellation and was abandoned.</summary>
    public const string AbandonedTag = "abandoned";
}
