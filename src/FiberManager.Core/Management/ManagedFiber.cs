using System.Diagnostics;
using FiberManager.Core.Fibers;
using FiberManager.Core.Hub;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace FiberManager.Core.Management;

/// <summary>
/// One managed fiber: id, workflow, bounded input, broadcast output, status; run as a fiber of
/// the supervisor's scope while holding one permit.
/// </summary>
/// <remarks>
/// <para>
/// One explicit phase (<see cref="ManagedFiberPhase"/>), changed only under <c>_lock</c>; every
/// locked block starts with <see cref="AssertInvariants"/>. Transitions (anything not listed
/// cannot happen):
/// </para>
/// <code>
/// from                    trigger                                           to                   side effects
/// Created                 Admit: a permit was free                          Running              fork the workflow
/// Created                 Admit: no permit, the Start may queue             Pending              waiter queued
/// Created                 AwaitPredecessors (Start with Replace)            AwaitingPredecessor
/// AwaitingPredecessor     Admit after the predecessors ended                Running | Pending    as from Created (Running: owner.OnPermitGranted)
/// Pending                 OnPermitGranted and the waiter is claimed         Running              owner.OnPermitGranted, status event Pending -> Running/Paused
/// AwaitingPredecessor,
///   Pending               InterruptAsync or TryWithdrawAsync                Terminating          a permit granted but not delivered is taken over (released by the cleanup)
/// Running                 an attempt failed, restarts left                  BackingOff           restarts + 1, status event
/// BackingOff              the backoff elapsed                               Running              status event
/// Running, BackingOff     the workflow ended (returned, threw, cancelled)   Terminating
/// Running, BackingOff     InterruptAsync's grace period expired             Terminating          abandoned
/// Running                 the runtime fiber ended without running the body  Terminating
/// Terminating             cleanup done                                      Ended
/// </code>
/// <para>
/// InterruptAsync on a running fiber records its reason, cancels the workflow's token and closes
/// the input for writes; the phase changes when the workflow stops (or its grace expires). The
/// cleanup runs exactly once, from whichever transition into Terminating happened, in the order
/// DESIGN.md fixes: final status (the transition itself); <see cref="IManagedFiberOwner{TInput, TOutput}.OnEnding"/>;
/// on-terminate hook (bounded); terminated event; <see cref="IManagedFiberOwner{TInput, TOutput}.OnEnded"/>
/// (permit, pending, retention); Ended.
/// </para>
/// <para>
/// One engine in one file (longer than the others): every member reads or moves the phase under
/// the one lock, and the transition table above is only checkable with all of them in view.
/// </para>
/// <para>
/// Lock order: the registry's lock, then this lock, then the input's and the hub's (the hub never
/// calls back, so status events are published under this lock, in the order of the state changes)
/// and the permit pool's. The owner is called only outside this lock.
/// </para>
/// </remarks>
[DebuggerDisplay("{Id} {_phase}")]
internal sealed class ManagedFiber<TInput, TOutput> : IFiberObserver, IFiberBody, IPermitRecipient, IReadPacing
{
    private static readonly IReadOnlyDictionary<string, string> s_noLabels = new Dictionary<string, string>();

    private readonly Lock _lock = new();
    private readonly IManagedFiberOwner<TInput, TOutput> _owner;
    private readonly FiberEnvironment _env;
    private readonly IWorkflow<TInput, TOutput> _workflow;
    private readonly RestartPolicy _restart;
    private readonly bool _bufferWhilePaused;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ManagedFiberPhase _phase;
    private TaskCompletionSource? _admitted;
    private PermitPool.Waiter? _waiter;
    private Fiber<Unit>? _fiber;
    private string? _interruptReason;
    private FiberTermination? _termination;
    private bool _terminatingWithPermit;
    private DateTimeOffset? _startedAt;
    private DateTimeOffset? _endedAt;
    private int _restarts;
    private string? _lastError;
    private long _outputs;

    public ManagedFiber(IManagedFiberOwner<TInput, TOutput> owner, FiberEnvironment environment, string id, IWorkflow<TInput, TOutput> workflow, ValidatedStart start)
    {
        _owner = owner;
        _env = environment;
        _workflow = workflow;
        Id = id;
        WorkflowName = start.WorkflowName;
        var options = start.Options;
        Args = options.Args;
        Labels = options.Labels is { Count: > 0 } labels ? new Dictionary<string, string>(labels) : s_noLabels;
        RequestId = options.RequestId;
        Owner = options.Owner;
        _restart = start.Restart;
        _bufferWhilePaused = options.BufferWhilePaused;
        CreatedAt = environment.TimeProvider.GetUtcNow();
        var settings = environment.Settings;
        Input = new WorkflowInput<TInput>(start.InputCapacity, options.StartPaused, settings.SubmitIdMemory, environment.InputTurnLimit, this);
        Hub = new BroadcastHub<EventPayload<TOutput>>(settings.ReplayCapacity, settings.SubscriberBufferCapacity, environment.TimeProvider);
    }

    /// <summary>What <see cref="Admit"/> did.</summary>
    public enum Admission
    {
        /// <summary>It had a permit and runs.</summary>
        Running,

        /// <summary>It waits in the permit queue (Pending).</summary>
        Queued,

        /// <summary>No permit was free and it may not queue: nothing changed.</summary>
        NoPermit,

        /// <summary>It was interrupted before it could be admitted.</summary>
        Ended,
    }

    public string Id { get; }

    public string WorkflowName { get; }

    public object? Args { get; }

    public IReadOnlyDictionary<string, string> Labels { get; }

    public string? RequestId { get; }

    /// <summary>Who started it (<see cref="StartOptions.Owner"/>); null when not counted per owner.</summary>
    public string? Owner { get; }

    public DateTimeOffset CreatedAt { get; }

    public WorkflowInput<TInput> Input { get; }

    public BroadcastHub<EventPayload<TOutput>> Hub { get; }

    public ILogger Logger => _env.WorkflowLogger;

    /// <summary>The workflow's read loop yields now and then while a subscriber of its outputs has fallen behind (see <see cref="WorkflowInput{T}"/>).</summary>
    bool IReadPacing.ShouldYield => Hub.HasSubscriberBehind;

    public TimeProvider TimeProvider => _env.TimeProvider;

    /// <summary>Completes once cleanup has finished (the fiber is in retention).</summary>
    public Task Ended => _ended.Task;

    /// <summary>
    /// Completes when the fiber leaves AwaitingPredecessor or Pending (it runs, or it ended); for a
    /// fiber that never waited, at once.
    /// </summary>
    public Task Admitted
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _admitted?.Task ?? Task.CompletedTask;
            }
        }
    }

    /// <summary>For a replacement: completes when every fiber it replaces has ended; null otherwise.</summary>
    public Task? PredecessorsEnded { get; private set; }

    /// <summary>Retention bookkeeping, guarded by the registry's lock.</summary>
    internal LinkedListNode<ManagedFiber<TInput, TOutput>>? RetentionNode { get; set; }

    public ManagedFiberPhase Phase
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _phase;
            }
        }
    }

    /// <summary>True while it holds a permit (for the supervisor's invariant check).</summary>
    public bool HoldsPermit
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return HoldsPermitLocked();
            }
        }
    }

    /// <summary>True once the status is final. Lock-free: the termination is set once, under the lock, exactly when the status becomes final.</summary>
    public bool HasEnded => Volatile.Read(ref _termination) is not null;

    /// <summary>True when the Start that created it gave up before it was admitted (see <see cref="FiberTermination.StartFailed"/>).</summary>
    public bool StartFailed => Volatile.Read(ref _termination) is { StartFailed: true };

    public ManagedFiberStatus Status
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return StatusLocked();
            }
        }
    }

    /// <summary>True once the workflow was started (it got a permit and was not interrupted first).</summary>
    public bool HasRun
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _startedAt is not null;
            }
        }
    }

    public DateTimeOffset? EndedAt
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _endedAt;
            }
        }
    }

    /// <summary>
    /// Created or AwaitingPredecessor: runs it when a permit is free, else queues it for one when
    /// <paramref name="mayQueue"/>. Called by the admission (which owns the permit pool), under
    /// the registry's lock for a new fiber.
    /// </summary>
    public Admission Admit(PermitPool permits, bool mayQueue)
    {
        Admission admission;
        Fiber<Unit>? forked = null;
        var leftPending = false;
        lock (_lock)
        {
            AssertInvariants();
            if (_phase is not (ManagedFiberPhase.Created or ManagedFiberPhase.AwaitingPredecessor))
            {
                Debug.Assert(_phase >= ManagedFiberPhase.Terminating, "Only an interrupt moves a fiber awaiting admission on.");
                return Admission.Ended;
            }

            PermitPool.Waiter? waiter = null;
            if (mayQueue ? permits.TryAcquireOrEnqueue(this, out waiter) : permits.TryAcquire())
            {
                leftPending = _phase == ManagedFiberPhase.AwaitingPredecessor;
                forked = StartRunningLocked(publishFromPending: leftPending);
                admission = Admission.Running;
            }
            else if (waiter is not null)
            {
                _phase = ManagedFiberPhase.Pending;
                _waiter = waiter;
                _admitted ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                admission = Admission.Queued;
            }
            else
            {
                admission = Admission.NoPermit;
            }
        }

        if (forked is not null)
        {
            AfterStarted(forked, leftPending);
        }

        return admission;
    }

    /// <summary>Created → AwaitingPredecessor: a replacement, admitted once <paramref name="predecessorsEnded"/> completes.</summary>
    public void AwaitPredecessors(Task predecessorsEnded)
    {
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(_phase == ManagedFiberPhase.Created, "Only a new fiber replaces another.");
            PredecessorsEnded = predecessorsEnded;
            _admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _phase = ManagedFiberPhase.AwaitingPredecessor;
        }
    }

    /// <summary>Pending → Running when the pool delivers this fiber's permit (unless it was withdrawn first).</summary>
    void IPermitRecipient.OnPermitGranted(PermitPool.Waiter waiter)
    {
        Fiber<Unit> forked;
        lock (_lock)
        {
            AssertInvariants();
            if (!ReferenceEquals(waiter, _waiter) || !waiter.TryClaim())
            {
                return; // withdrawn first: whoever withdrew it holds the permit
            }

            Debug.Assert(_phase == ManagedFiberPhase.Pending, "Only a pending fiber has a waiter.");
            _waiter = null;
            forked = StartRunningLocked(publishFromPending: true);
        }

        AfterStarted(forked, leftPending: true);
    }

    /// <summary>
    /// The Start that created a fiber still waiting for admission gave up (its permit timeout or
    /// cancellation, or no permit for a replacement): ends it as Interrupted with
    /// <paramref name="reason"/>. False when it was admitted (or ended) first.
    /// </summary>
    public async Task<bool> TryWithdrawAsync(string reason)
    {
        TerminationStart? ending;
        lock (_lock)
        {
            AssertInvariants();
            ending = TryEndAwaitingAdmissionLocked(reason, startFailed: true);
        }

        if (ending is null)
        {
            return false;
        }

        await CleanupAsync(ending.Value).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Two-phase interrupt: cancel the workflow, wait <paramref name="grace"/>, then abandon it. A
    /// fiber not yet admitted ends at once. Completes when the fiber has ended (cleanup done).
    /// </summary>
    public async Task InterruptAsync(TimeSpan grace, string reason)
    {
        TerminationStart? ending = null;
        Fiber<Unit>? running = null;
        lock (_lock)
        {
            AssertInvariants();
            switch (_phase)
            {
                case ManagedFiberPhase.AwaitingPredecessor or ManagedFiberPhase.Pending:
                    ending = TryEndAwaitingAdmissionLocked(reason, startFailed: false);
                    break;
                case ManagedFiberPhase.Running or ManagedFiberPhase.BackingOff when _interruptReason is null:
                    _interruptReason = reason;
                    running = _fiber;
                    break;
            }
        }

        if (ending is { } end)
        {
            await CleanupAsync(end).ConfigureAwait(false);
            return;
        }

        if (running is not null)
        {
            // The token first, then the input: a read loop woken by the closed input finds its token cancelled.
            running.Interrupt();
            Input.CloseWrites();
            try
            {
                // WaitAsync disposes its timer when the fiber ends first: no grace timer outlives it.
                await _ended.Task.WaitAsync(grace, TimeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                await AbandonAsync(grace).ConfigureAwait(false);
            }
        }

        await _ended.Task.ConfigureAwait(false);
    }

    public FiberInfo Pause()
    {
        lock (_lock)
        {
            AssertInvariants();
            ThrowIfEndedLocked();
            var before = StatusLocked();
            if (Input.Pause() && _phase == ManagedFiberPhase.Running)
            {
                PublishStatusLocked(before, ManagedFiberStatus.Paused);
            }

            return SnapshotLocked();
        }
    }

    public FiberInfo Resume()
    {
        lock (_lock)
        {
            AssertInvariants();
            ThrowIfEndedLocked();

            // The gate only changes under this lock, so it is still paused below. The status event
            // goes out before the gate opens: a subscriber sees PAUSED -> RUNNING before any output
            // of an input handed out after the resume (the workflow publishes without this lock).
            if (Input.IsPaused)
            {
                if (_phase == ManagedFiberPhase.Running)
                {
                    PublishStatusLocked(ManagedFiberStatus.Paused, ManagedFiberStatus.Running);
                }

                var resumed = Input.Resume();
                Debug.Assert(resumed, "Only the fiber's Pause and Resume move the gate, under the fiber's lock.");
            }

            return SnapshotLocked();
        }
    }

    /// <summary>
    /// Offers one input, carrying the current activity's trace context. Accepted inputs are
    /// processed or counted as unprocessed at the end: the input closes, under this fiber's lock,
    /// in the same block that makes the status final, and counts what is left.
    /// </summary>
    public ValueTask<SubmitResult> SubmitAsync(TInput value, string? submitId, FullQueueMode mode, CancellationToken cancellationToken)
    {
        var write = Input.SubmitAsync(value, submitId, Activity.Current?.Context ?? default, _bufferWhilePaused, mode, cancellationToken);
        return write.IsCompletedSuccessfully
            ? new ValueTask<SubmitResult>(ToSubmitResult(write.Result))
            : AwaitWriteAsync(write);
    }

    public ulong PublishOutput(TOutput output)
    {
        if (!Hub.TryPublish(new EventPayload<TOutput>(FiberEventKind.Output, output, default, default, null), out var sequence))
        {
            throw new InvalidOperationException($"Fiber '{Id}' has ended; its outputs are closed.");
        }

        Interlocked.Increment(ref _outputs);
        _env.Metrics.OutputPublished(WorkflowName);
        return sequence;
    }

    public FiberSubscription<TOutput> Subscribe(ulong afterSequence) =>
        new(Hub.Subscribe(afterSequence), _env.Metrics, WorkflowName);

    public FiberInfo Snapshot()
    {
        lock (_lock)
        {
            AssertInvariants();
            return SnapshotLocked();
        }
    }

    /// <summary>The runtime fiber's body: the workflow, restarted on failure per the policy.</summary>
    Task IFiberBody.RunAsync(FiberContext context) => RunAsync(context);

    /// <summary>
    /// The runtime never runs the body of a fiber interrupted before the thread pool picked it up
    /// (an Interrupt, Replace or shutdown right after Start), so <see cref="RunAsync"/> never ends
    /// it: end it once the runtime fiber is done, on the thread pool (observers run inline and
    /// must be quick). When the body did run it has ended the fiber already.
    /// </summary>
    /// <remarks>An observer rather than an awaiting method: a parked await cost every idle managed fiber ~550 bytes.</remarks>
    void IFiberObserver.OnFiberDone(Fiber fiber)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_phase >= ManagedFiberPhase.Terminating)
            {
                return;
            }
        }

        // QueueUserWorkItem flows the execution context observers run in: the one the runtime
        // fiber captured at Start, as the awaiting method's continuation had.
        ThreadPool.QueueUserWorkItem(
            static self => _ = self.EndAsync(ManagedFiberStatus.Interrupted, null),
            this,
            preferLocal: false);
    }

    private async Task RunAsync(FiberContext context)
    {
        var token = context.CancellationToken;
        Input.BindFiberToken(token);
        ManagedFiberStatus outcome;
        Exception? failure = null;
        try
        {
            if (_restart.MaxRestarts > 0)
            {
                await BuildRestartPipeline(token).ExecuteAsync(
                    static async (self, ct) => await self.RunAttemptAsync(ct).ConfigureAwait(false),
                    this,
                    token).ConfigureAwait(false);
            }
            else
            {
                // The single attempt, inline (one async layer less per fiber than RunAttemptAsync).
                try
                {
                    await _workflow.RunAsync(new WorkflowContext<TInput, TOutput>(this, token, 0)).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    RecordAttemptFailure(exception);
                    throw;
                }
            }

            // A workflow that returns once cancelled was interrupted all the same (and keeps the reason).
            outcome = token.IsCancellationRequested ? ManagedFiberStatus.Interrupted : ManagedFiberStatus.Completed;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            outcome = ManagedFiberStatus.Interrupted;
        }
        catch (Exception exception)
        {
            outcome = ManagedFiberStatus.Failed;
            failure = exception;
        }

        await EndAsync(outcome, failure).ConfigureAwait(false);
    }

    private async Task RunAttemptAsync(CancellationToken token)
    {
        int attempt;
        lock (_lock)
        {
            AssertInvariants();
            attempt = _restarts;
            if (_phase == ManagedFiberPhase.BackingOff)
            {
                _phase = ManagedFiberPhase.Running;
                PublishStatusLocked(ManagedFiberStatus.BackingOff, RunningStatusLocked());
            }
        }

        try
        {
            await _workflow.RunAsync(new WorkflowContext<TInput, TOutput>(this, token, attempt)).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !token.IsCancellationRequested)
        {
            RecordAttemptFailure(exception);
            throw;
        }
    }

    private void RecordAttemptFailure(Exception exception)
    {
        lock (_lock)
        {
            AssertInvariants();
            _lastError = exception.Message;
        }
    }

    /// <summary>The restart schedule: Polly's retry strategy on the supervisor's clock.</summary>
    private ResiliencePipeline BuildRestartPipeline(CancellationToken token)
    {
        return new ResiliencePipelineBuilder { TimeProvider = TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                // Never restart a fiber that is being interrupted, however its workflow failed.
                ShouldHandle = new PredicateBuilder().Handle<Exception>(_ => !token.IsCancellationRequested),
                MaxRetryAttempts = _restart.MaxRestarts,
                BackoffType = DelayBackoffType.Exponential,
                Delay = _restart.InitialBackoff,
                MaxDelay = _restart.MaxBackoff,
                UseJitter = _restart.UseJitter,
                OnRetry = args =>
                {
                    lock (_lock)
                    {
                        AssertInvariants();
                        if (_phase == ManagedFiberPhase.Running)
                        {
                            _restarts++;
                            _phase = ManagedFiberPhase.BackingOff;
                            _env.Metrics.Restarted(WorkflowName);
                            PublishStatusLocked(RunningStatusLocked(), ManagedFiberStatus.BackingOff);
                        }
                    }

                    _env.Log.WorkflowRestarting(Id, WorkflowName, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>Running or BackingOff → Terminating because the workflow ended; nothing when it is ending already (abandoned).</summary>
    private Task EndAsync(ManagedFiberStatus status, Exception? failure)
    {
        TerminationStart ending;
        lock (_lock)
        {
            AssertInvariants();
            if (_phase >= ManagedFiberPhase.Terminating)
            {
                return _ended.Task;
            }

            Debug.Assert(_phase is ManagedFiberPhase.Running or ManagedFiberPhase.BackingOff, "Only a running fiber's workflow ends.");
            ending = BeginTerminatingLocked(status, failure, abandoned: false, holdsPermit: true, startFailed: false);
        }

        return CleanupAsync(ending);
    }

    /// <summary>Running or BackingOff → Terminating because the workflow ignored its cancellation past <paramref name="grace"/>.</summary>
    private async Task AbandonAsync(TimeSpan grace)
    {
        TerminationStart ending;
        lock (_lock)
        {
            AssertInvariants();
            if (_phase >= ManagedFiberPhase.Terminating)
            {
                return; // it began its cleanup (say, a slow hook) just in time: not abandoned
            }

            ending = BeginTerminatingLocked(ManagedFiberStatus.Interrupted, null, abandoned: true, holdsPermit: true, startFailed: false);
        }

        _env.Log.WorkflowAbandoned(Id, WorkflowName, grace);
        _env.CountAbandoned();
        await CleanupAsync(ending).ConfigureAwait(false);
    }

    /// <summary>AwaitingPredecessor or Pending → Terminating, withdrawing from the permit queue; null in any other phase.</summary>
    private TerminationStart? TryEndAwaitingAdmissionLocked(string reason, bool startFailed)
    {
        bool holdsPermit;
        switch (_phase)
        {
            case ManagedFiberPhase.AwaitingPredecessor:
                holdsPermit = false;
                break;
            case ManagedFiberPhase.Pending:
                var withdrawn = _waiter!.TryWithdraw();
                Debug.Assert(withdrawn != PermitPool.WithdrawResult.AlreadyDelivered, "A delivery is claimed under this lock, and moves the fiber to Running.");
                holdsPermit = withdrawn == PermitPool.WithdrawResult.PermitTaken;
                _waiter = null;
                break;
            default:
                return null;
        }

        _interruptReason = reason;
        return BeginTerminatingLocked(ManagedFiberStatus.Interrupted, null, abandoned: false, holdsPermit, startFailed);
    }

    /// <summary>The one transition into Terminating: the status becomes final, the input closes and counts what is left.</summary>
    private TerminationStart BeginTerminatingLocked(ManagedFiberStatus status, Exception? failure, bool abandoned, bool holdsPermit, bool startFailed)
    {
        Debug.Assert(status.IsTerminal(), "A fiber ends in a terminal status.");
        Debug.Assert(_phase < ManagedFiberPhase.Terminating, "A fiber terminates once.");
        var before = AsPublished(StatusLocked());
        var unprocessed = Input.Close();
        _phase = ManagedFiberPhase.Terminating;
        _terminatingWithPermit = holdsPermit;
        _endedAt = TimeProvider.GetUtcNow();
        if (failure is not null)
        {
            _lastError = failure.Message;
        }

        var termination = new FiberTermination(status, failure, unprocessed, abandoned, status == ManagedFiberStatus.Interrupted ? _interruptReason ?? "interrupt" : null)
        {
            StartFailed = startFailed,
        };
        Volatile.Write(ref _termination, termination);
        return new TerminationStart(termination, before, holdsPermit);
    }

    /// <summary>
    /// The cleanup after the transition into Terminating, exactly once per fiber, in the order
    /// DESIGN.md fixes: owner count, hook (bounded), terminated event, permit and retention, Ended.
    /// </summary>
    private async Task CleanupAsync(TerminationStart ending)
    {
        var termination = ending.Termination;

        // The fiber has ended: it stops counting for its owner now, before its terminated event is
        // published, so a client that has seen that event can start another one at once.
        _owner.OnEnding(this);
        _env.Metrics.Terminated(WorkflowName, termination.Status, termination.Abandoned);
        await RunTerminateHookAsync(termination).ConfigureAwait(false);
        Hub.TryComplete(new EventPayload<TOutput>(FiberEventKind.Terminated, default, ending.PublishedBefore, termination.Status, termination));
        _owner.OnEnded(this, ending.HoldsPermit);
        lock (_lock)
        {
            AssertInvariants();
            _phase = ManagedFiberPhase.Ended;
        }

        _env.Log.FiberEnded(Id, WorkflowName, termination.Status, termination.InputsUnprocessed, termination.Error);
        _admitted?.TrySetResult();
        _ended.TrySetResult();
    }

    private async Task RunTerminateHookAsync(FiberTermination termination)
    {
        var timeout = _env.Settings.TerminateHookTimeout;
        using var cts = new CancellationTokenSource(timeout, TimeProvider);
        try
        {
            await _workflow.OnTerminateAsync(termination, cts.Token).AsTask().WaitAsync(timeout, TimeProvider).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            _env.Log.TerminateHookFailed(Id, WorkflowName, exception);
        }
    }

    /// <summary>Created, AwaitingPredecessor or Pending → Running: forks the workflow (the caller holds a permit for it).</summary>
    private Fiber<Unit> StartRunningLocked(bool publishFromPending)
    {
        _phase = ManagedFiberPhase.Running;
        _startedAt = TimeProvider.GetUtcNow();
        var scope = _env.Scope;
        _fiber = scope.Runtime.ForkCore<Unit>(null, scope, this); // body: RunAsync
        if (publishFromPending)
        {
            PublishStatusLocked(ManagedFiberStatus.Pending, RunningStatusLocked());
        }

        return _fiber;
    }

    private void AfterStarted(Fiber<Unit> forked, bool leftPending)
    {
        forked.AddObserver(this); // see OnFiberDone
        if (leftPending)
        {
            _owner.OnPermitGranted(this);
        }

        _admitted?.TrySetResult();
        _env.Log.FiberStarted(Id, WorkflowName);
    }

    private SubmitResult ToSubmitResult(InputWrite write)
    {
        switch (write.Outcome)
        {
            case SubmitOutcome.Accepted or SubmitOutcome.Duplicate:
                var result = new SubmitResult(write.Sequence, write.Depth, Duplicate: write.Outcome == SubmitOutcome.Duplicate);
                _env.Metrics.Submit(WorkflowName, result);
                return result;
            case SubmitOutcome.Paused:
                _env.Metrics.SubmitRejected(WorkflowName);
                throw new FiberSupervisorException(FiberErrorCode.Paused, $"Fiber '{Id}' is paused and does not accept input while paused.", Id);
            case SubmitOutcome.Full:
                _env.Metrics.SubmitRejected(WorkflowName);
                var depth = write.Depth.ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new FiberSupervisorException(
                    FiberErrorCode.InputQueueFull,
                    $"The input queue of fiber '{Id}' is full ({depth}/{Input.Capacity}).",
                    Id,
                    new Dictionary<string, string> { ["queue_depth"] = depth, ["capacity"] = Input.Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            default:
                _env.Metrics.SubmitRejected(WorkflowName);

                // Closed: ending, or being interrupted (it will end Interrupted).
                throw FiberSupervisorException.Ended(Id, Volatile.Read(ref _termination)?.Status ?? ManagedFiberStatus.Interrupted);
        }
    }

    private async ValueTask<SubmitResult> AwaitWriteAsync(ValueTask<InputWrite> write) =>
        ToSubmitResult(await write.ConfigureAwait(false));

    private FiberInfo SnapshotLocked() => new()
    {
        FiberId = Id,
        Workflow = WorkflowName,
        Labels = Labels,
        Status = StatusLocked(),
        CreatedAt = CreatedAt,
        StartedAt = _startedAt,
        EndedAt = _endedAt,
        QueueDepth = Input.Count,
        InputCapacity = Input.Capacity,
        InputsAccepted = (long)Input.Accepted,
        InputsProcessed = Input.HandedOut,
        OutputsPublished = Interlocked.Read(ref _outputs),
        Subscribers = Hub.SubscriberCount,
        Restarts = _restarts,
        LastError = _lastError,
        Termination = _termination,
        LastSequence = Hub.LastSequence,
        Paused = Input.IsPaused,
        RequestId = RequestId,
        Owner = Owner,
    };

    private ManagedFiberStatus StatusLocked() => _phase switch
    {
        ManagedFiberPhase.Created or ManagedFiberPhase.AwaitingPredecessor or ManagedFiberPhase.Pending => ManagedFiberStatus.Pending,
        ManagedFiberPhase.BackingOff => ManagedFiberStatus.BackingOff,
        ManagedFiberPhase.Running => Input.IsReaderIdle && !Input.IsPaused ? ManagedFiberStatus.Idle : RunningStatusLocked(),
        _ => _termination!.Status,
    };

    /// <summary>What a running fiber is called in events: Paused while its gate is closed, else Running.</summary>
    private ManagedFiberStatus RunningStatusLocked() => Input.IsPaused ? ManagedFiberStatus.Paused : ManagedFiberStatus.Running;

    private bool HoldsPermitLocked() =>
        _phase is ManagedFiberPhase.Running or ManagedFiberPhase.BackingOff || (_phase == ManagedFiberPhase.Terminating && _terminatingWithPermit);

    private void ThrowIfEndedLocked()
    {
        if (_phase >= ManagedFiberPhase.Terminating)
        {
            throw FiberSupervisorException.Ended(Id, _termination!.Status);
        }
    }

    /// <summary>
    /// Idle/Running flips are not published (they happen once per input), so events call both
    /// Running: every status event then starts where the previous one ended.
    /// </summary>
    private static ManagedFiberStatus AsPublished(ManagedFiberStatus status) =>
        status == ManagedFiberStatus.Idle ? ManagedFiberStatus.Running : status;

    private void PublishStatusLocked(ManagedFiberStatus previous, ManagedFiberStatus current)
    {
        previous = AsPublished(previous);
        current = AsPublished(current);
        if (previous != current)
        {
            Hub.TryPublish(new EventPayload<TOutput>(FiberEventKind.StatusChanged, default, previous, current, null), out _);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the fiber's lock.");
        var admitted = _phase >= ManagedFiberPhase.Running;
        Debug.Assert((_waiter is not null) == (_phase == ManagedFiberPhase.Pending), "Exactly a pending fiber has a place in the permit queue.");
        Debug.Assert((_fiber is not null) == (_startedAt is not null), "A fiber started its workflow exactly when it has a start time.");
        Debug.Assert(_phase is not (ManagedFiberPhase.Running or ManagedFiberPhase.BackingOff) || _fiber is not null, "A running fiber has forked its workflow.");
        Debug.Assert(admitted || _fiber is null, "A fiber not yet admitted has not forked its workflow.");
        Debug.Assert((_termination is not null) == (_phase >= ManagedFiberPhase.Terminating), "The status is final exactly from Terminating on.");
        Debug.Assert((_endedAt is not null) == (_phase >= ManagedFiberPhase.Terminating), "The end time is set with the final status.");
        Debug.Assert(_phase != ManagedFiberPhase.AwaitingPredecessor || PredecessorsEnded is not null, "A replacement knows what it waits for.");
        Debug.Assert(_phase is not (ManagedFiberPhase.AwaitingPredecessor or ManagedFiberPhase.Pending) || _admitted is not null, "A Start can wait for a fiber awaiting admission.");
        Debug.Assert(_interruptReason is null || admitted, "An interrupted fiber that was not yet admitted terminates at once.");
        Debug.Assert(_phase != ManagedFiberPhase.BackingOff || _restart.MaxRestarts > 0, "Only a fiber with a restart policy backs off.");
        Debug.Assert(!_terminatingWithPermit || _phase >= ManagedFiberPhase.Terminating, "The permit held at the end is recorded when the fiber terminates.");
    }

    /// <summary>What the cleanup needs, fixed by the transition into Terminating.</summary>
    private readonly record struct TerminationStart(FiberTermination Termination, ManagedFiberStatus PublishedBefore, bool HoldsPermit);
}
