using FiberManager.Core.Fibers;
using Microsoft.Extensions.Logging;

namespace FiberManager.Core.Management;

/// <summary>
/// What every managed fiber of one supervisor shares and only reads: the settings, the clock, the
/// scope its workflows run in, and where logs and metrics go. Created once by the supervisor.
/// </summary>
internal sealed class FiberEnvironment(
    SupervisorSettings settings,
    TimeProvider timeProvider,
    FiberScope scope,
    FiberSupervisorLog log,
    ILogger workflowLogger,
    FiberSupervisorMetrics metrics)
{
    private long _abandoned;

    public SupervisorSettings Settings { get; } = settings;

    public TimeProvider TimeProvider { get; } = timeProvider;

    /// <summary>The supervisor's scope: every workflow runs as a fiber of it.</summary>
    public FiberScope Scope { get; } = scope;

    public FiberSupervisorLog Log { get; } = log;

    /// <summary>The logger handed to workflows (<see cref="WorkflowContext{TInput, TOutput}.Logger"/>).</summary>
    public ILogger WorkflowLogger { get; } = workflowLogger;

    public FiberSupervisorMetrics Metrics { get; } = metrics;

    /// <summary>Workflows abandoned because they ignored cancellation past their grace period.</summary>
    public long Abandoned => Interlocked.Read(ref _abandoned);

    /// <summary>
    /// How many inputs a workflow's read loop takes in a row before it yields its thread while a
    /// subscriber has fallen behind (see <see cref="WorkflowInput{T}"/>): half a subscriber's
    /// buffer, so that a subscriber woken by the first of them gets to run before a run of outputs
    /// overflows its buffer, and a subscriber that stays behind costs the loop one yield per that
    /// many inputs at most.
    /// </summary>
    public int InputTurnLimit => Math.Max(1, Settings.SubscriberBufferCapacity / 2);

    public void CountAbandoned() => Interlocked.Increment(ref _abandoned);
}
