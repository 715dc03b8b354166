using System.Diagnostics;
using System.Diagnostics.Metrics;
using FiberManager.Core.Fibers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FiberManager.Core.Management;

/// <summary>
/// The fiber supervisor: one long-lived workflow loop per id, each with a bounded input queue and
/// a broadcast output hub, all under one global concurrency limit. Usable in-process; the gRPC
/// service is a thin layer over it.
/// </summary>
/// <typeparam name="TInput">What Submit delivers to workflows.</typeparam>
/// <typeparam name="TOutput">What workflows publish to subscribers.</typeparam>
/// <remarks>
/// A front over parts findable by name: <see cref="FiberRegistry{TInput, TOutput}"/> (live,
/// replaced, retained, by owner), <see cref="FiberAdmission{TInput, TOutput}"/> (Start: conflicts,
/// owner limits, permits, the pending set), <see cref="StartOptionsValidation"/>,
/// <see cref="FiberListing"/>, <see cref="SupervisorInvariants"/>, <see cref="SupervisorShutdown{TInput, TOutput}"/>,
/// and the fibers themselves (<see cref="ManagedFiber{TInput, TOutput}"/>), which report to the
/// supervisor only through <see cref="IManagedFiberOwner{TInput, TOutput}"/>. Operations on one
/// fiber go supervisor → fiber (→ its input or hub).
/// </remarks>
/// <example><code>
/// await using var supervisor = new FiberSupervisor&lt;string, string&gt;(new FiberSupervisorOptions { MaxConcurrentFibers = 100 });
/// var echo = Workflow.Create&lt;string, string&gt;(async ctx =>
/// {
///     await foreach (var text in ctx.Input.ReadAllAsync(ctx.CancellationToken)) ctx.Publish(text);
/// });
/// await supervisor.StartAsync("chat-1", "echo", echo);
/// var subscription = supervisor.Subscribe("chat-1");
/// await supervisor.SubmitAsync("chat-1", "hello");
/// await foreach (var e in subscription.ReadAllAsync())
///     if (e.Kind == FiberEventKind.Output) { Console.WriteLine(e.Output); break; }
/// await supervisor.InterruptAsync("chat-1");
/// </code></example>
[DebuggerDisplay("{_registry}")]
public sealed class FiberSupervisor<TInput, TOutput> : IAsyncDisposable, IManagedFiberOwner<TInput, TOutput>
{
    private readonly FiberEnvironment _environment;
    private readonly PermitPool _permits;
    private readonly FiberRegistry<TInput, TOutput> _registry;
    private readonly FiberAdmission<TInput, TOutput> _admission;
    private readonly SupervisorShutdown<TInput, TOutput> _shutdown;
    private readonly PageTokens _pageTokens = new();

    /// <summary>Creates a supervisor.</summary>
    /// <param name="options">Options (validated once; copied, so later changes have no effect).</param>
    /// <param name="timeProvider">The clock for grace periods, backoff, retention and timestamps.</param>
    /// <param name="loggerFactory">Where lifecycle logs go.</param>
    /// <param name="meterFactory">Creates the <c>FiberManager</c> meter (see <see cref="FiberSupervisorTelemetryNames"/>); without one the supervisor uses a meter of its own.</param>
    /// <exception cref="ArgumentException">The options are invalid (the message lists every problem).</exception>
    public FiberSupervisor(FiberSupervisorOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        var settings = (options ?? new FiberSupervisorOptions()).ToSettings();
        TimeProvider = timeProvider ?? TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        _permits = new PermitPool(settings.MaxConcurrentFibers);
        _registry = new FiberRegistry<TInput, TOutput>(settings, TimeProvider);
        var runtime = new FiberRuntime(TimeProvider);
        _environment = new FiberEnvironment(
            settings,
            TimeProvider,
            runtime.CreateScope(),
            new FiberSupervisorLog(loggerFactory.CreateLogger("FiberManager.Core.Management.FiberSupervisor")),
            loggerFactory.CreateLogger("FiberManager.Workflow"),
            new FiberSupervisorMetrics(meterFactory, GetStatistics, CountByStatus));
        _admission = new FiberAdmission<TInput, TOutput>(_registry, _permits, _environment, this);
        _shutdown = new SupervisorShutdown<TInput, TOutput>(_registry, _permits, _environment);
    }

    /// <summary>The supervisor's clock.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Starts <paramref name="workflow"/> under <paramref name="fiberId"/>.
    /// </summary>
    /// <exception cref="FiberSupervisorException">InvalidFiberId, InvalidArgument, AlreadyExists, ConcurrencyLimitReached, OwnerFiberLimitReached, ShuttingDown.</exception>
    /// <exception cref="OperationCanceledException">The caller gave up while waiting for a permit (the pending fiber is interrupted).</exception>
    /// <example><code>var result = await supervisor.StartAsync("tenant-7", "consumer", workflow, new StartOptions { Admission = AdmissionMode.Queue });</code></example>
    public Task<StartResult> StartAsync(
        string fiberId,
        string workflowName,
        IWorkflow<TInput, TOutput> workflow,
        StartOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        FiberId.Validate(fiberId);
        ArgumentNullException.ThrowIfNull(workflow);
        var start = (options ?? StartOptions.Default).Validate(workflowName, _environment.Settings);
        return _admission.StartAsync(fiberId, workflow, start, cancellationToken);
    }

    /// <summary>Offers one input to the fiber; the current activity's trace context travels with it to the workflow (<see cref="InputItem{T}.SubmitContext"/>).</summary>
    /// <exception cref="FiberSupervisorException">NotFound, Ended, Paused, InputQueueFull (reject mode), InvalidFiberId.</exception>
    /// <example><code>SubmitResult r = await supervisor.SubmitAsync("chat-1", "hello", FullQueueMode.Reject, submitId: "msg-17");</code></example>
    public ValueTask<SubmitResult> SubmitAsync(
        string fiberId,
        TInput input,
        FullQueueMode fullQueue = FullQueueMode.Wait,
        string? submitId = null,
        CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<SubmitResult>(cancellationToken);
        }

        return FindLive(fiberId).SubmitAsync(input, submitId, fullQueue, cancellationToken);
    }

    /// <summary>Pauses the fiber's input reader (idempotent); the item in progress finishes.</summary>
    /// <example><code>supervisor.Pause("chat-1");</code></example>
    public FiberInfo Pause(string fiberId) => FindLive(fiberId).Pause();

    /// <summary>Resumes the fiber's input reader (idempotent).</summary>
    /// <example><code>supervisor.Resume("chat-1");</code></example>
    public FiberInfo Resume(string fiberId) => FindLive(fiberId).Resume();

    /// <summary>
    /// Interrupts the fiber: cancels its workflow, waits up to <paramref name="grace"/> (default:
    /// the configured grace period) for it to stop, then abandons it. Interrupting an ended fiber
    /// returns its final state.
    /// </summary>
    /// <example><code>FiberInfo final = await supervisor.InterruptAsync("chat-1", TimeSpan.FromSeconds(2));</code></example>
    public async Task<FiberInfo> InterruptAsync(string fiberId, TimeSpan? grace = null, CancellationToken cancellationToken = default)
    {
        var fiber = _registry.Find(fiberId);
        if (grace is { } g && g < TimeSpan.Zero)
        {
            throw FiberSupervisorException.InvalidArgument("The grace period must not be negative.", "grace");
        }

        await fiber.InterruptAsync(grace ?? _environment.Settings.InterruptGracePeriod, "interrupt").WaitAsync(cancellationToken).ConfigureAwait(false);
        return fiber.Snapshot();
    }

    /// <summary>The fiber's status (live, or ended and still retained).</summary>
    /// <example><code>FiberInfo info = supervisor.GetStatus("chat-1");</code></example>
    public FiberInfo GetStatus(string fiberId) => _registry.Find(fiberId).Snapshot();

    /// <summary>
    /// Subscribes to the fiber's events after <paramref name="afterSequence"/> (0: everything
    /// still in the replay window, then live). Works for retained ended fibers too (replay, then
    /// the terminated event).
    /// </summary>
    /// <example><code>using var subscription = supervisor.Subscribe("chat-1", afterSequence: lastSeen);</code></example>
    public FiberSubscription<TOutput> Subscribe(string fiberId, ulong afterSequence = 0) =>
        _registry.Find(fiberId).Subscribe(afterSequence);

    /// <summary>
    /// Lists fibers (live and retained) matching <paramref name="query"/>, ordered by id, one page
    /// at a time. A page token is bound to the filters it was issued for (statuses, workflow,
    /// labels; the page size may change) and to this supervisor: reused with other filters,
    /// altered, or issued by another supervisor, it is refused with InvalidArgument.
    /// </summary>
    /// <exception cref="FiberSupervisorException">InvalidArgument: a negative page size, or a page token that is not valid for this query.</exception>
    /// <example><code>var page = supervisor.List(new FiberQuery { Statuses = [ManagedFiberStatus.Paused], PageSize = 50 });</code></example>
    public FiberPage List(FiberQuery? query = null) =>
        FiberListing.List(query ?? new FiberQuery(), _registry.Visible(), _pageTokens, _environment.Settings.MaxPageSize);

    /// <summary>Changes the global concurrency limit at run time; growing starts waiting fibers at once.</summary>
    /// <example><code>supervisor.SetConcurrencyLimit(2_000);</code></example>
    public void SetConcurrencyLimit(int maxConcurrentFibers)
    {
        if (maxConcurrentFibers < 1)
        {
            throw FiberSupervisorException.InvalidArgument($"The concurrency limit must be at least 1 (got {maxConcurrentFibers}).", "max_concurrent_fibers");
        }

        _permits.Resize(maxConcurrentFibers);
        _environment.Log.ConcurrencyLimitChanged(maxConcurrentFibers);
    }

    /// <summary>The live (not ended) fibers started with <see cref="StartOptions.Owner"/> = <paramref name="owner"/>.</summary>
    /// <example><code>int mine = supervisor.CountOwnedFibers("billing-service");</code></example>
    public int CountOwnedFibers(string owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        return _registry.CountOwned(owner);
    }

    /// <summary>Counters of the supervisor as a whole.</summary>
    public FiberSupervisorStatistics GetStatistics()
    {
        var (live, retained) = _registry.Count();
        return new FiberSupervisorStatistics(
            _permits.Limit,
            _permits.InUse,
            _permits.Waiting,
            live,
            _admission.PendingCount,
            retained,
            _environment.Abandoned,
            _registry.IsClosed);
    }

    /// <summary>
    /// Shuts down: stops admitting, interrupts every fiber with grace (in parallel), delivers
    /// every terminated event, and completes when all have ended (or been abandoned).
    /// </summary>
    public ValueTask DisposeAsync() => new(_shutdown.RunOnceAsync());

    /// <summary>Checks the supervisor's invariants; throws listing every violation. For tests and diagnostics.</summary>
    internal void CheckInvariants() => SupervisorInvariants.Check(_registry, _admission, _permits);

    void IManagedFiberOwner<TInput, TOutput>.OnPermitGranted(ManagedFiber<TInput, TOutput> fiber) => _admission.LeavePending(fiber);

    void IManagedFiberOwner<TInput, TOutput>.OnEnding(ManagedFiber<TInput, TOutput> fiber) => _registry.LeaveOwner(fiber);

    void IManagedFiberOwner<TInput, TOutput>.OnEnded(ManagedFiber<TInput, TOutput> fiber, bool heldPermit)
    {
        if (heldPermit)
        {
            _permits.Release();
        }

        _admission.LeavePending(fiber);
        _registry.MoveToRetention(fiber);
    }

    /// <summary>A fiber that has not ended (one ending right now reports Ended itself).</summary>
    private ManagedFiber<TInput, TOutput> FindLive(string fiberId)
    {
        var fiber = _registry.Find(fiberId);
        if (fiber.HasEnded)
        {
            throw FiberSupervisorException.Ended(fiberId, fiber.Status);
        }

        return fiber;
    }

    private IReadOnlyDictionary<ManagedFiberStatus, int> CountByStatus() => FiberListing.CountByStatus(_registry.Visible());
}
