using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Diagnostics;
using FiberManager.Core.Hub;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace FiberManager.Core.Management;

/// <summary>What the hub carries for one fiber event (the hub adds sequence and time).</summary>
internal readonly record struct EventPayload<TOutput>(
    FiberEventKind Kind,
    TOutput? Output,
    ManagedFiberStatus Previous,
    ManagedFiberStatus Current,
    FiberTermination? Termination);

/// <summary>
/// One managed fiber: id, workflow, bounded input, broadcast output, status; run as a daemon
/// fiber of the manager's scope while holding one permit.
/// </summary>
/// <remarks>
/// Phases: Pending (waiting for a permit) → Running (a runtime fiber runs the workflow, with
/// restarts) → Terminating → Ended. <see cref="TerminateAsync"/> is the single cleanup path,
/// entered exactly once (an interlocked flag) from whichever way the fiber ends: the workflow
/// returning or throwing, an interrupt whose grace expired, a pending fiber cancelled, shutdown,
/// or the runtime fiber ending without running its body (interrupted before it was scheduled).
/// Cleanup order (DESIGN.md): final status; on-terminate hook (bounded); terminated event;
/// permit released; moved to retention.
/// Lock order: manager lock → fiber lock → hub/gate locks. The hub never calls back, so events
/// are published under the fiber lock to keep them in the order of the state changes.
/// </remarks>
[DebuggerDisplay("{Id} {DebugStatus}")]
internal sealed class ManagedFiber<TInput, TOutput> : IFiberObserver, IFiberBody
{
    private readonly Lock _lock = new();
    private readonly FiberSupervisor<TInput, TOutput> _manager;
    private readonly IWorkflow<TInput, TOutput> _workflow;
    private readonly RestartPolicy _restart;
    private readonly bool _bufferWhilePaused;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _started;
    private PermitPool.Waiter? _permitWaiter;
    private Fiber<Unit>? _fiber;
    private bool _pending;
    private bool _countedPending;
    private bool _admissionFailed;
    private bool _backingOff;
    private bool _holdsPermit;
    private bool _interruptRequested;
    private string? _interruptReason;
    private int _terminating;
    private int _ownerCounted;
    private ManagedFiberStatus _finalStatus;
    private FiberTermination? _termination;
    private DateTimeOffset? _startedAt;
    private DateTimeOffset? _endedAt;
    private int _restarts;
    private string? _lastError;
    private long _outputs;
    private long _inputsAccepted;
    private SubmitIdMemory? _submitIds;

    public ManagedFiber(
        FiberSupervisor<TInput, TOutput> manager,
        string id,
        string workflowName,
        IWorkflow<TInput, TOutput> workflow,
        StartOptions options,
        int inputCapacity)
    {
        _manager = manager;
        _workflow = workflow;
        Id = id;
        WorkflowName = workflowName;
        Args = options.Args;
        Labels = options.Labels is { Count: > 0 } labels ? new Dictionary<string, string>(labels) : s_noLabels;
        RequestId = options.RequestId;
        Owner = options.Owner;
        _restart = options.Restart ?? RestartPolicy.Never;
        _bufferWhilePaused = options.BufferWhilePaused;
        CreatedAt = manager.TimeProvider.GetUtcNow();
        Input = new WorkflowInput<TInput>(inputCapacity, options.StartPaused);
        Hub = new BroadcastHub<EventPayload<TOutput>>(manager.Options.ReplayCapacity, manager.Options.SubscriberBufferCapacity, manager.TimeProvider);
    }

    private static readonly IReadOnlyDictionary<string, string> s_noLabels = new Dictionary<string, string>();

    public string Id { get; }

    public string WorkflowName { get; }

    public object? Args { get; }

    public IReadOnlyDictionary<string, string> Labels { get; }

    public string? RequestId { get; }

    /// <summary>Who started it (<see cref="StartOptions.Owner"/>); null when not counted per owner.</summary>
    public string? Owner { get; }

    /// <summary>True while the fiber counts towards its owner's live fibers (for the manager's invariant check).</summary>
    public bool CountsForOwner => Volatile.Read(ref _ownerCounted) == 1;

    public DateTimeOffset CreatedAt { get; }

    public WorkflowInput<TInput> Input { get; }

    public BroadcastHub<EventPayload<TOutput>> Hub { get; }

    public ILogger Logger => _manager.WorkflowLogger;

    public TimeProvider TimeProvider => _manager.TimeProvider;

    /// <summary>Completes once cleanup has finished (the fiber is in retention).</summary>
    public Task Ended => _ended.Task;

    /// <summary>True while holding a permit (for the manager's invariant check).</summary>
    public bool HoldsPermit
    {
        get
        {
            lock (_lock)
            {
                return _holdsPermit;
            }
        }
    }


    /// <summary>Retention bookkeeping, guarded by the manager's lock.</summary>
    internal LinkedListNode<ManagedFiber<TInput, TOutput>>? RetentionNode { get; set; }

    private string DebugStatus => Status.ToString();

    /// <summary>
    /// True once the status is final (Completed, Failed, Interrupted). Lock-free: the termination is
    /// set once, under the fiber's lock, exactly when the status becomes final.
    /// </summary>
    public bool HasEnded => Volatile.Read(ref _termination) is not null;

    public ManagedFiberStatus Status
    {
        get
        {
            lock (_lock)
            {
                return StatusLocked();
            }
        }
    }

    /// <summary>True once the workflow was started (it got a permit and was not cancelled first).</summary>
    public bool HasRun
    {
        get
        {
            lock (_lock)
            {
                return _startedAt is not null;
            }
        }
    }

    /// <summary>
    /// Takes the fiber out of the manager's pending count: true exactly once for a fiber that was
    /// counted (it waited for a permit), whichever comes first - the permit arriving or the fiber
    /// ending while it waited.
    /// </summary>
    public bool LeavePendingCount()
    {
        lock (_lock)
        {
            var counted = _countedPending;
            _countedPending = false;
            return counted;
        }
    }

    /// <summary>
    /// True when the Start that created the fiber gave up waiting for its permit (timeout or
    /// cancellation): that Start failed, so a retry with its request id must not be answered
    /// with this fiber.
    /// </summary>
    public bool AdmissionFailed
    {
        get
        {
            lock (_lock)
            {
                return _admissionFailed;
            }
        }
    }

    /// <summary>Records that the Start that created the fiber failed (see <see cref="AdmissionFailed"/>).</summary>
    public void MarkAdmissionFailed()
    {
        lock (_lock)
        {
            _admissionFailed = true;
        }
    }

    public DateTimeOffset? EndedAt
    {
        get
        {
            lock (_lock)
            {
                return _endedAt;
            }
        }
    }

    /// <summary>Records that the manager counted the fiber for its owner; called under the manager lock when it is registered.</summary>
    public void MarkCountedForOwner()
    {
        Debug.Assert(Owner is not null, "only an owned fiber is counted");
        Volatile.Write(ref _ownerCounted, 1);
    }

    /// <summary>True exactly once for a fiber counted for its owner: the caller uncounts it.</summary>
    public bool LeaveOwnerCount() => Interlocked.Exchange(ref _ownerCounted, 0) == 1;

    /// <summary>Marks the fiber Pending on <paramref name="waiter"/>; called under the manager lock.</summary>
    public void SetPending(PermitPool.Waiter waiter)
    {
        lock (_lock)
        {
            _pending = true;
            _countedPending = true;
            _permitWaiter = waiter;
            _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>
    /// For a replacement: completes when every fiber it replaces has ended (null for a fiber that
    /// replaced nothing). Set once, under the manager's lock, before the fiber is published.
    /// </summary>
    public Task? PredecessorsEnded { get; private set; }

    /// <summary>
    /// Marks a replacement Pending until <paramref name="predecessorsEnded"/> (no permit waiter yet:
    /// the manager admits it then); called under the manager lock, before the fiber is stored.
    /// </summary>
    public void SetAwaitingPredecessors(Task predecessorsEnded)
    {
        PredecessorsEnded = predecessorsEnded;
        lock (_lock)
        {
            _pending = true;
            _countedPending = true;
            _started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    /// <summary>True while a replacement still waits to be admitted: not interrupted, not ending, no permit asked for.</summary>
    public bool IsAwaitingAdmission
    {
        get
        {
            lock (_lock)
            {
                return AwaitingAdmissionLocked();
            }
        }
    }

    /// <summary>Gives a replacement awaiting admission its permit waiter; false when it was interrupted first.</summary>
    public bool TrySetPermitWaiter(PermitPool.Waiter waiter)
    {
        lock (_lock)
        {
            if (!AwaitingAdmissionLocked())
            {
                return false;
            }

            _permitWaiter = waiter;
            return true;
        }
    }

    /// <summary>
    /// Gives up on a replacement awaiting admission (its Start was cancelled, or found no permit):
    /// true when it was still waiting and is now ended as Interrupted.
    /// </summary>
    public async Task<bool> TryCancelAwaitingAsync(string reason)
    {
        lock (_lock)
        {
            if (!AwaitingAdmissionLocked())
            {
                return false;
            }

            _interruptRequested = true;
            _interruptReason = reason;
            _admissionFailed = true;
        }

        await TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false).ConfigureAwait(false);
        return true;
    }

    private bool AwaitingAdmissionLocked() =>
        PredecessorsEnded is not null && _pending && _permitWaiter is null && _fiber is null && _terminating == 0 && !_interruptRequested;

    /// <summary>Starts the fiber when its permit is granted; the task completes when it started or ended.</summary>
    public Task ObservePermit()
    {
        var waiter = _permitWaiter!;
        _ = waiter.Task.ContinueWith(
            static (_, state) => ((ManagedFiber<TInput, TOutput>)state!).OnPermitGranted(),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return _started!.Task;
    }

    /// <summary>
    /// Gives up on a Pending fiber (its caller stopped waiting): true when it was still waiting
    /// and is now ended as Interrupted; false when its permit was granted first (it runs).
    /// </summary>
    public async Task<bool> TryCancelPendingAsync(string reason)
    {
        PermitPool.Waiter? waiter;
        lock (_lock)
        {
            waiter = _pending && _terminating == 0 ? _permitWaiter : null;
        }

        if (waiter is null || !waiter.TryCancel())
        {
            return false;
        }

        lock (_lock)
        {
            _interruptRequested = true;
            _interruptReason = reason;
            _admissionFailed = true;
        }

        await TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false).ConfigureAwait(false);
        return true;
    }

    /// <summary>Starts the workflow; the caller has acquired a permit for this fiber.</summary>
    public void StartWithPermit(FiberScope scope)
    {
        var wasPending = false;
        var giveBack = false;
        Fiber<Unit>? forked = null;
        lock (_lock)
        {
            Debug.Assert(!_holdsPermit, "a fiber holds at most one permit");
            if (_terminating != 0)
            {
                // Already ending through another path: the permit is not ours to keep.
                giveBack = true;
                _fiber = null;
            }
            else if (_interruptRequested)
            {
                _holdsPermit = true;
                // Interrupted while its permit was on the way: end without running.
                _fiber = null;
            }
            else
            {
                _holdsPermit = true;
                wasPending = _pending;
                _pending = false;
                _startedAt = TimeProvider.GetUtcNow();
                _fiber = forked = scope.Runtime.ForkCore<Unit>(null, scope, this); // body: RunAsync
                if (wasPending)
                {
                    PublishStatusLocked(ManagedFiberStatus.Pending, Input.IsPaused ? ManagedFiberStatus.Paused : ManagedFiberStatus.Running);
                }
            }
        }

        if (giveBack)
        {
            _manager.ReleasePermit();
            return;
        }

        if (forked is null)
        {
            _ = TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false);
            _started?.TrySetResult();
            return;
        }

        forked.AddObserver(this); // see OnFiberDone
        _started?.TrySetResult();
        _manager.Log.FiberStarted(Id, WorkflowName);
    }

    /// <summary>
    /// The runtime never runs the body of a fiber interrupted before the thread pool picked it up
    /// (an Interrupt, Replace or shutdown right after Start), so <see cref="RunAsync"/> never
    /// reaches <see cref="TerminateAsync"/>: end the managed fiber once the runtime fiber is done,
    /// on the thread pool (observers run inline and must be quick). When the body did run, it has
    /// already begun terminating (it awaits TerminateAsync before the runtime fiber ends), and
    /// there is nothing to do.
    /// </summary>
    /// <remarks>
    /// An observer rather than an awaiting method: a parked await cost every idle managed fiber
    /// two async state machines and a completion source (~550 bytes).
    /// </remarks>
    void IFiberObserver.OnFiberDone(Fiber fiber)
    {
        if (Volatile.Read(ref _terminating) != 0)
        {
            return;
        }

        // QueueUserWorkItem flows the execution context observers run in: the one the runtime
        // fiber captured at Start, as the awaiting method's continuation had.
        ThreadPool.QueueUserWorkItem(
            static self => _ = self.TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false),
            this,
            preferLocal: false);
    }

    /// <summary>
    /// Offers one input. Accepted inputs are processed or counted as unprocessed at the end:
    /// the ended check and the write happen under the fiber lock, and termination closes the
    /// gate under the same lock before counting what is left.
    /// </summary>
    public ValueTask<SubmitResult> SubmitAsync(TInput input, string? submitId, FullQueueMode mode, CancellationToken cancellationToken)
    {
        ulong sequence;
        WorkflowInput<TInput>.ReaderWake wake;
        SubmitResult? accepted = null;
        lock (_lock)
        {
            if (_terminating != 0)
            {
                throw FiberSupervisorException.Ended(Id, _termination is null ? ManagedFiberStatus.Interrupted : _finalStatus);
            }

            // A retry of an accepted input reports it as accepted, whatever the fiber's state now.
            if (submitId is not null && _submitIds is not null && _submitIds.TryGet(submitId, out var seen))
            {
                return new ValueTask<SubmitResult>(new SubmitResult(seen, Input.Count, Duplicate: true));
            }

            if (Input.IsPaused && !_bufferWhilePaused)
            {
                throw new FiberSupervisorException(FiberErrorCode.Paused, $"Fiber '{Id}' is paused and does not accept input while paused.", Id);
            }

            // The sequence is the input's position in the queue's history, taken when it enters the
            // queue: only accepted inputs use one up, so they are numbered 1, 2, 3... without holes
            // (a Submit rejected, or given up while waiting for room, takes none).
            if (Input.TryWrite(input, out sequence, out wake))
            {
                Accepted(submitId, sequence);
                accepted = new SubmitResult(sequence, Input.Count, Duplicate: false);
            }
            else if (mode == FullQueueMode.Reject)
            {
                // The gate is open (we are not terminating), so the write failed because the queue is full.
                var depth = Input.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new FiberSupervisorException(
                    FiberErrorCode.InputQueueFull,
                    $"The input queue of fiber '{Id}' is full ({depth}/{Input.Capacity}).",
                    Id,
                    new Dictionary<string, string> { ["queue_depth"] = depth, ["capacity"] = Input.Capacity.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }
        }

        if (accepted is { } result)
        {
            // The workflow's parked read is woken once the fiber's lock is released.
            wake.Run();
            return new ValueTask<SubmitResult>(result);
        }

        return WriteWhenRoomAsync(input, submitId, cancellationToken);
    }

    private async ValueTask<SubmitResult> WriteWhenRoomAsync(TInput input, string? submitId, CancellationToken cancellationToken)
    {
        ulong sequence;
        try
        {
            sequence = await Input.WriteAsync(input, cancellationToken).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            throw FiberSupervisorException.Ended(Id, Status);
        }

        lock (_lock)
        {
            Accepted(submitId, sequence);
            return new SubmitResult(sequence, Input.Count, Duplicate: false);
        }
    }

    private void Accepted(string? submitId, ulong sequence)
    {
        _inputsAccepted++;
        if (submitId is not null && _manager.Options.SubmitIdMemory > 0)
        {
            (_submitIds ??= new SubmitIdMemory(_manager.Options.SubmitIdMemory)).Add(submitId, sequence);
        }
    }

    public FiberInfo Pause()
    {
        lock (_lock)
        {
            ThrowIfEndedLocked();
            var before = StatusLocked();
            if (Input.Pause() && !_pending && !_backingOff)
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
            ThrowIfEndedLocked();

            // The gate only changes under this lock, so it is still paused below. The status event
            // goes out before the gate opens: a subscriber sees PAUSED -> RUNNING before any output
            // of an input handed out after the resume (the workflow publishes without this lock).
            if (Input.IsPaused)
            {
                if (!_pending && !_backingOff)
                {
                    PublishStatusLocked(ManagedFiberStatus.Paused, ManagedFiberStatus.Running);
                }

                var resumed = Input.Resume();
                Debug.Assert(resumed, "only the fiber's Pause and Resume move the gate, under the fiber's lock");
                _manager.AfterResumeForTesting?.Invoke(Id);
            }

            return SnapshotLocked();
        }
    }

    public ulong PublishOutput(TOutput output)
    {
        if (!Hub.TryPublish(new EventPayload<TOutput>(FiberEventKind.Output, output, default, default, null), out var sequence))
        {
            throw new InvalidOperationException($"Fiber '{Id}' has ended; its outputs are closed.");
        }

        Interlocked.Increment(ref _outputs);
        _manager.Metrics.OutputPublished(WorkflowName);
        return sequence;
    }

    /// <summary>
    /// Two-phase interrupt: cancel the workflow, wait <paramref name="grace"/>, then abandon it.
    /// Completes when the fiber has ended (cleanup done).
    /// </summary>
    public async Task InterruptAsync(TimeSpan grace, string reason)
    {
        Fiber<Unit>? fiber;
        PermitPool.Waiter? waiter;
        var awaitingAdmission = false;
        lock (_lock)
        {
            if (_terminating != 0 || _interruptRequested)
            {
                fiber = null;
                waiter = null;
            }
            else
            {
                awaitingAdmission = AwaitingAdmissionLocked();
                _interruptRequested = true;
                _interruptReason = reason;
                fiber = _fiber;
                waiter = _pending ? _permitWaiter : null;
            }
        }

        if (awaitingAdmission)
        {
            // A replacement still waiting for the fiber it replaces: it holds nothing and never ran.
            await TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false).ConfigureAwait(false);
            return;
        }

        if (waiter is not null && waiter.TryCancel())
        {
            // Never started and never will: end it here (it holds no permit).
            await TerminateAsync(ManagedFiberStatus.Interrupted, null, abandoned: false).ConfigureAwait(false);
            return;
        }

        if (fiber is not null)
        {
            fiber.Interrupt();
            try
            {
                // WaitAsync disposes its timer when the fiber ends first: no grace timer outlives it.
                await _ended.Task.WaitAsync(grace, TimeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException) when (Interlocked.Exchange(ref _terminating, 1) == 0)
            {
                // Still not ending after the grace period: abandon it. (A fiber that had already
                // begun its cleanup — say, a slow hook — is not abandoned; we wait for it below.)
                _manager.Log.WorkflowAbandoned(Id, WorkflowName, grace);
                _manager.CountAbandoned();
                await TerminateCoreAsync(ManagedFiberStatus.Interrupted, null, abandoned: true).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Already terminating through another path.
            }
        }

        await _ended.Task.ConfigureAwait(false);
    }

    /// <summary>The runtime fiber's body: the workflow, restarted on failure per the policy.</summary>
    Task IFiberBody.RunAsync(FiberContext context) => RunAsync(context);

    private async Task RunAsync(FiberContext context)
    {
        var token = context.CancellationToken;
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
                // The single attempt, inline (one async layer less per fiber than RunAttemptAsync):
                // attempt 0, never backing off.
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

        await TerminateAsync(outcome, failure, abandoned: false).ConfigureAwait(false);
    }

    private async Task RunAttemptAsync(CancellationToken token)
    {
        int attempt;
        lock (_lock)
        {
            attempt = _restarts;
            if (_backingOff)
            {
                _backingOff = false;
                PublishStatusLocked(ManagedFiberStatus.BackingOff, Input.IsPaused ? ManagedFiberStatus.Paused : ManagedFiberStatus.Running);
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
            _lastError = exception.Message;
        }
    }

    /// <summary>The restart schedule: Polly's retry strategy on the manager's clock.</summary>
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
                        _restarts++;
                        _backingOff = true;
                        _manager.Metrics.Restarted(WorkflowName);
                        PublishStatusLocked(Input.IsPaused ? ManagedFiberStatus.Paused : ManagedFiberStatus.Running, ManagedFiberStatus.BackingOff);
                    }

                    _manager.Log.WorkflowRestarting(Id, WorkflowName, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    /// <summary>
    /// The single termination path; runs its body exactly once however the fiber ends.
    /// Order: final status → on-terminate hook (bounded) → terminated event → permit released → retention.
    /// </summary>
    public Task TerminateAsync(ManagedFiberStatus status, Exception? failure, bool abandoned) =>
        Interlocked.Exchange(ref _terminating, 1) == 0 ? TerminateCoreAsync(status, failure, abandoned) : _ended.Task;

    /// <summary>The body of <see cref="TerminateAsync"/>; the caller has set <see cref="_terminating"/>.</summary>
    private async Task TerminateCoreAsync(ManagedFiberStatus status, Exception? failure, bool abandoned)
    {
        Debug.Assert(status.IsTerminal(), "a fiber ends in a terminal status");
        FiberTermination termination;
        ManagedFiberStatus before;
        lock (_lock)
        {
            before = AsPublished(StatusBeforeTerminalLocked());
            var unprocessed = Input.Close();
            _finalStatus = status;
            _endedAt = TimeProvider.GetUtcNow();
            _pending = false;
            _backingOff = false;
            if (failure is not null)
            {
                _lastError = failure.Message;
            }

            termination = new FiberTermination(status, failure, unprocessed, abandoned, status == ManagedFiberStatus.Interrupted ? _interruptReason ?? "interrupt" : null);
            _termination = termination;
        }

        // The fiber has ended: it stops counting for its owner now, before its terminated event
        // is published, so a client that has seen that event can start another one at once.
        _manager.ReleaseOwner(this);

        _manager.Metrics.Terminated(WorkflowName, status, abandoned);
        await RunTerminateHookAsync(termination).ConfigureAwait(false);

        Hub.TryComplete(new EventPayload<TOutput>(FiberEventKind.Terminated, default, before, status, termination));

        bool releasePermit;
        lock (_lock)
        {
            releasePermit = _holdsPermit;
            _holdsPermit = false;
        }

        if (releasePermit)
        {
            _manager.ReleasePermit();
        }

        _manager.MoveToRetention(this);
        _manager.Log.FiberEnded(Id, WorkflowName, status, termination.InputsUnprocessed, failure);
        _started?.TrySetResult();
        _ended.TrySetResult();
    }

    private async Task RunTerminateHookAsync(FiberTermination termination)
    {
        var timeout = _manager.Options.TerminateHookTimeout;
        using var cts = new CancellationTokenSource(timeout, TimeProvider);
        try
        {
            await _workflow.OnTerminateAsync(termination, cts.Token).AsTask().WaitAsync(timeout, TimeProvider).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            _manager.Log.TerminateHookFailed(Id, WorkflowName, exception);
        }
    }

    public FiberInfo Snapshot()
    {
        lock (_lock)
        {
            return SnapshotLocked();
        }
    }

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
        InputsAccepted = _inputsAccepted,
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

    private ManagedFiberStatus StatusLocked() =>
        _termination is not null ? _finalStatus : StatusBeforeTerminalLocked();

    private ManagedFiberStatus StatusBeforeTerminalLocked()
    {
        if (_pending)
        {
            return ManagedFiberStatus.Pending;
        }

        if (_backingOff)
        {
            return ManagedFiberStatus.BackingOff;
        }

        if (Input.IsPaused)
        {
            return ManagedFiberStatus.Paused;
        }

        return Input.IsReaderIdle ? ManagedFiberStatus.Idle : ManagedFiberStatus.Running;
    }

    private void ThrowIfEndedLocked()
    {
        if (_terminating != 0)
        {
            throw FiberSupervisorException.Ended(Id, _termination is null ? ManagedFiberStatus.Interrupted : _finalStatus);
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

    private void OnPermitGranted() => _manager.OnPermitGranted(this);

    /// <summary>The last N submit ids of a fiber, for de-duplicating retried Submits.</summary>
    private sealed class SubmitIdMemory(int capacity)
    {
        private readonly Dictionary<string, ulong> _sequences = new(StringComparer.Ordinal);
        private readonly Queue<string> _order = new();

        public bool TryGet(string submitId, out ulong sequence) => _sequences.TryGetValue(submitId, out sequence);

        public void Add(string submitId, ulong sequence)
        {
            if (!_sequences.TryAdd(submitId, sequence))
            {
                return;
            }

            _order.Enqueue(submitId);
            if (_order.Count > capacity)
            {
                _sequences.Remove(_order.Dequeue());
            }
        }
    }
}
