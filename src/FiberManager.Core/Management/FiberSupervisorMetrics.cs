using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace FiberManager.Core.Management;

/// <summary>
/// The manager's instruments (System.Diagnostics.Metrics only). Created from an
/// <see cref="IMeterFactory"/> when one is given (the meter then belongs to the factory), else
/// on a meter of its own, disposed with the manager.
/// </summary>
internal sealed class FiberSupervisorMetrics : IDisposable
{
    private static readonly ManagedFiberStatus[] s_statuses = Enum.GetValues<ManagedFiberStatus>();
    private static readonly string[] s_statusNames = [.. s_statuses.Select(s => s == ManagedFiberStatus.BackingOff ? "backing_off" : s.ToString().ToLowerInvariant())];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _submits;
    private readonly Histogram<int> _queueDepth;
    private readonly Counter<long> _outputs;
    private readonly Counter<long> _gaps;
    private readonly Counter<long> _terminations;
    private readonly Counter<long> _restarts;

    public FiberSupervisorMetrics(IMeterFactory? meterFactory, Func<FiberSupervisorStatistics> statistics, Func<IReadOnlyDictionary<ManagedFiberStatus, int>> countByStatus)
    {
        var version = typeof(FiberSupervisorMetrics).Assembly.GetName().Version?.ToString();
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(FiberSupervisorTelemetryNames.MeterName) { Version = version })
            ?? new Meter(FiberSupervisorTelemetryNames.MeterName, version);

        _submits = _meter.CreateCounter<long>(FiberSupervisorTelemetryNames.Submits, "{submit}", "Submit calls that reached a fiber, by result (accepted, rejected, duplicate).");
        _queueDepth = _meter.CreateHistogram<int>(
            FiberSupervisorTelemetryNames.InputQueueDepth,
            "{input}",
            "The fiber's input queue depth right after an accepted Submit.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 5_000, 10_000] });
        _outputs = _meter.CreateCounter<long>(FiberSupervisorTelemetryNames.OutputsPublished, "{output}", "Outputs published by workflows.");
        _gaps = _meter.CreateCounter<long>(FiberSupervisorTelemetryNames.Gaps, "{gap}", "Gap events delivered to subscribers (a subscriber missed events: it fell behind or resumed outside the replay window).");
        _terminations = _meter.CreateCounter<long>(FiberSupervisorTelemetryNames.Terminations, "{fiber}", "Fibers that ended, by exit (completed, failed, interrupted) and whether the workflow was abandoned.");
        _restarts = _meter.CreateCounter<long>(FiberSupervisorTelemetryNames.Restarts, "{restart}", "Workflow restarts after a failure (restart policy).");

        _meter.CreateObservableGauge(FiberSupervisorTelemetryNames.Fibers, () => ObserveByStatus(countByStatus()), "{fiber}", "Fibers known to the manager (live and retained), by status.");
        _meter.CreateObservableGauge(FiberSupervisorTelemetryNames.PermitsInUse, () => statistics().PermitsInUse, "{permit}", "Permits held by fibers (a fiber holds one from start to end).");
        _meter.CreateObservableGauge(FiberSupervisorTelemetryNames.PermitsLimit, () => statistics().PermitLimit, "{permit}", "The global concurrency limit.");
        _meter.CreateObservableGauge(FiberSupervisorTelemetryNames.PermitsWaiting, () => statistics().PermitWaiters, "{fiber}", "Fibers waiting for a permit (queued or waiting Starts).");
    }

    /// <summary>The meter the instruments live on.</summary>
    public Meter Meter => _meter;

    // The per-Submit and per-output instruments are checked for a listener first: they sit on the
    // hottest paths (a W3 profile spent ~3% of its samples recording into counters nobody listened to).
    public void Submit(string workflow, SubmitResult result)
    {
        if (_submits.Enabled)
        {
            _submits.Add(1, Workflow(workflow), new(FiberSupervisorTelemetryNames.ResultTag, result.Duplicate ? "duplicate" : "accepted"));
        }

        if (!result.Duplicate && _queueDepth.Enabled)
        {
            _queueDepth.Record(result.QueueDepth, Workflow(workflow));
        }
    }

    public void SubmitRejected(string workflow) =>
        _submits.Add(1, Workflow(workflow), new(FiberSupervisorTelemetryNames.ResultTag, "rejected"));

    public void OutputPublished(string workflow)
    {
        if (_outputs.Enabled)
        {
            _outputs.Add(1, Workflow(workflow));
        }
    }

    public void GapDelivered(string workflow) => _gaps.Add(1, Workflow(workflow));

    public void Terminated(string workflow, ManagedFiberStatus exit, bool abandoned) =>
        _terminations.Add(
            1,
            Workflow(workflow),
            new(FiberSupervisorTelemetryNames.ExitTag, exit switch
            {
                ManagedFiberStatus.Completed => "completed",
                ManagedFiberStatus.Failed => "failed",
                _ => "interrupted",
            }),
            new(FiberSupervisorTelemetryNames.AbandonedTag, abandoned ? "true" : "false"));

    public void Restarted(string workflow) => _restarts.Add(1, Workflow(workflow));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static KeyValuePair<string, object?> Workflow(string workflow) => new(FiberSupervisorTelemetryNames.WorkflowTag, workflow);

    private static IEnumerable<Measurement<int>> ObserveByStatus(IReadOnlyDictionary<ManagedFiberStatus, int> counts)
    {
        var measurements = new Measurement<int>[s_statuses.Length];
        for (var i = 0; i < s_statuses.Length; i++)
        {
            measurements[i] = new Measurement<int>(counts.GetValueOrDefault(s_statuses[i]), new KeyValuePair<string, object?>(FiberSupervisorTelemetryNames.StatusTag, s_statusNames[i]));
        }

        return measurements;
    }
}
