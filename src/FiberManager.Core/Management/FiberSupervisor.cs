using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FiberManager.Core.Management;

/// <summary>
/// The fiber manager: one long-lived workflow loop per id, each with a bounded input queue and a
/// broadcast output hub, all under one global concurrency limit. Usable in-process; the gRPC
/// service is a thin layer over it.
/// </summary>
/// <typeparam name="TInput">What Submit delivers to workflows.</typeparam>
/// <typeparam name="TOutput">What workflows publish to subscribers.</typeparam>
/// <remarks>
/// Invariants (checked by <see cref="CheckInvariants"/>, which the stress tests call): permits in
/// use equal the live fibers holding one; a paused fiber hands out no input; every accepted
/// input is handed to the workflow or reported as unprocessed in the terminated event; an id
/// maps to at most one live fiber; an owner's count equals its registered fibers that have not
/// ended, and never exceeds the limit the Starts that registered them named. Lock order:
/// manager lock, then a fiber's lock.
/// </remarks>
/// <example><code>
/// await using var manager = new FiberSupervisor&lt;string, string&gt;(new FiberSupervisorOptions { MaxConcurrentFibers = 100 });
/// var echo = Workflow.Create&lt;string, string&gt;(async ctx =>
/// {
///     await foreach (var text in ctx.Input.ReadAllAsync(ctx.CancellationToken)) ctx.Publish(text);
/// });
/// await manager.StartAsync("chat-1", "echo", echo);
/// var subscription = manager.Subscribe("chat-1");
/// await manager.SubmitAsync("chat-1", "hello");
/// await foreach (var e in subscription.ReadAllAsync())
///     if (e.Kind == FiberEventKind.Output) { Console.WriteLine(e.Output); break; }
/// await manager.InterruptAsync("chat-1");
/// </code></example>
[DebuggerDisplay("Live = {_live.Count}, Retained = {_retained.Count}")]
public sealed partial class FiberSupervisor<TInput, TOutput> : IAsyncDisposable
{
    private const int DefaultPageSize = 100;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, ManagedFiber<TInput, TOutput>> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ManagedFiber<TInput, TOutput>> _retained = new(StringComparer.Ordinal);
    private readonly LinkedList<ManagedFiber<TInput, TOutput>> _retentionOrder = new();
    private readonly HashSet<ManagedFiber<TInput, TOutput>> _replaced = [];
    private readonly Dictionary<string, int> _fibersByOwner = new(StringComparer.Ordinal);
    private readonly PermitPool _permits;
    private readonly PageTokens _pageTokens = new();
    private readonly FiberRuntime _runtime;
    private readonly FiberScope _scope;
    private Task? _shutdown;
    private long _abandoned;
    private int _pending;

    /// <summary>Creates a manager.</summary>
    /// <param name="options">Options (validated; copied, so later changes have no effect).</param>
    /// <param name="timeProvider">The clock for grace periods, backoff, retention and timestamps.</param>
    /// <param name="loggerFactory">Where lifecycle logs go.</param>
    /// <param name="meterFactory">Creates the <c>FiberManager</c> meter (see <see cref="FiberSupervisorTelemetryNames"/>); without one the manager uses a meter of its own.</param>
    public FiberSupervisor(FiberSupervisorOptions? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        Options = (options ?? new FiberSupervisorOptions()).Clone();
        Options.Validate();
        TimeProvider = timeProvider ?? TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        Log = new FiberSupervisorLog(loggerFactory.CreateLogger("FiberManager.Core.Management.FiberSupervisor"));
        WorkflowLogger = loggerFactory.CreateLogger("FiberManager.Workflow");
        _permits = new PermitPool(Options.MaxConcurrentFibers);
        _runtime = new FiberRuntime(TimeProvider);
        _scope = _runtime.CreateScope();
        Metrics = new FiberSupervisorMetrics(meterFactory, GetStatistics, CountByStatus);
    }

    /// <summary>The options in force (a copy).</summary>
    public FiberSupervisorOptions Options { get; }

    /// <summary>The manager's clock.</summary>
    public TimeProvider TimeProvider { get; }

    internal FiberSupervisorLog Log { get; }

    internal ILogger WorkflowLogger { get; }

    /// <summary>
    /// A test hook run by Resume right after a fiber's input gate opened, still under the fiber's
    /// lock: lets a test hold the resume there while the workflow takes an input and publishes.
    /// </summary>
    internal Action<string>? AfterResumeForTesting { get; set; }

    /// <summary>
    /// Starts <paramref name="workflow"/> under <paramref name="fiberId"/>.
    /// </summary>
    /// <exception cref="FiberSupervisorException">InvalidFiberId, InvalidArgument, AlreadyExists, ConcurrencyLimitReached, ShuttingDown.</exception>
    /// <exception cref="OperationCanceledException">The caller gave up while waiting for a permit (the pending fiber is interrupted).</exception>
    /// <example><code>var result = await manager.StartAsync("tenant-7", "consumer", workflow, new StartOptions { Admission = AdmissionMode.Queue });</code></example>
    public async Task<StartResult> StartAsync(
        string fiberId,
        string workflowName,
        IWorkflow<TInput, TOutput> workflow,
        StartOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        FiberId.Validate(fiberId);
        ArgumentNullException.ThrowIfNull(workflow);
        options ??= StartOptions.Default;
        var inputCapacity = ValidateStart(workflowName, options);

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ManagedFiber<TInput, TOutput>? toReplace = null;
            ManagedFiber<TInput, TOutput>? ending = null;
            ManagedFiber<TInput, TOutput> fiber;
            PermitPool.Waiter? waiter = null;
            var hasPermit = false;
            lock (_lock)
            {
                ThrowIfShuttingDownLocked();
                PruneRetentionLocked();
                if (_live.TryGetValue(fiberId, out var existing))
                {
                    if (options.RequestId is not null && existing.RequestId == options.RequestId && !existing.AdmissionFailed)
                    {
                        return new StartResult(existing.Snapshot(), Created: false);
                    }

                    if (existing.Status.IsTerminal())
                    {
                        // It has ended and is finishing its cleanup: the id is no longer taken by a
                        // live fiber. Wait for the cleanup, then register the new one.
                        ending = existing;
                    }
                    else
                    {
                        switch (options.Conflict)
                        {
                            case IdConflictPolicy.UseExisting:
                                return new StartResult(existing.Snapshot(), Created: false);
                            case IdConflictPolicy.Replace:
                                toReplace = existing;
                                break;
                            default:
                                throw new FiberSupervisorException(FiberErrorCode.AlreadyExists, $"A fiber with id '{fiberId}' already exists ({existing.Status}).", fiberId);
                        }
                    }
                }
                else if (options.RequestId is not null && _retained.TryGetValue(fiberId, out var ended) && ended.RequestId == options.RequestId && !ended.AdmissionFailed)
                {
                    return new StartResult(ended.Snapshot(), Created: false);
                }

                if (ending is null)
                {
                    // Before anything is interrupted: a replacement the owner may not hold must not
                    // cost the fiber it would replace (whose slot it takes).
                    ThrowIfOwnerAtLimitLocked(fiberId, options, replacing: toReplace);
                    fiber = new ManagedFiber<TInput, TOutput>(this, fiberId, workflowName, workflow, options, inputCapacity);
                    if (toReplace is not null)
                    {
                        // The replaced fiber leaves its owner's count now: its slot goes to the new one.
                        ReleaseOwnerLocked(toReplace);
                        // The new fiber is stored before the old one is interrupted (the FiberMap
                        // rule), so the id never resolves to an ended fiber or to nothing: it is
                        // Pending (inputs are buffered, subscribers and status see it) and is
                        // admitted once every fiber it replaces has ended, so that one id never
                        // runs two workflows at once.
                        fiber.SetAwaitingPredecessors(toReplace.PredecessorsEnded is { } earlier ? Task.WhenAll(toReplace.Ended, earlier) : toReplace.Ended);
                        _pending++;
                        _replaced.Add(toReplace);
                    }
                    else if (_permits.TryAcquire())
                    {
                        hasPermit = true;
                    }
                    else if (options.Admission == AdmissionMode.Reject)
                    {
                        throw ConcurrencyLimitReached(fiberId, "no permit is free");
                    }
                    else if (_pending >= Options.MaxPendingFibers)
                    {
                        throw ConcurrencyLimitReached(fiberId, $"{_pending} fibers already wait for a permit");
                    }
                    else
                    {
                        waiter = _permits.Enqueue();
                        fiber.SetPending(waiter);
                        _pending++;
                    }

                    _live[fiberId] = fiber;
                    CountForOwnerLocked(fiber);
                }
                else
                {
                    fiber = ending;
                }
            }

            if (ending is not null)
            {
                await ending.Ended.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue; // it is in retention now; register the new one
            }

            if (toReplace is not null)
            {
                Log.FiberReplacing(fiberId);
                _ = toReplace.InterruptAsync(Options.InterruptGracePeriod, "replace");
                switch (await AdmitReplacementAsync(fiber, options, cancellationToken).ConfigureAwait(false))
                {
                    case ReplacementAdmission.Ended:
                        return await EndedBeforeAdmissionAsync(fiber).ConfigureAwait(false);
                    case ReplacementAdmission.HasPermit:
                        OnPermitGranted(fiber); // it was counted as pending
                        return new StartResult(fiber.Snapshot(), Created: true);
                }
            }

            if (hasPermit)
            {
                fiber.StartWithPermit(_scope);
                return new StartResult(fiber.Snapshot(), Created: true);
            }

            var started = fiber.ObservePermit();
            if (options.Admission == AdmissionMode.Queue)
            {
                return new StartResult(fiber.Snapshot(), Created: true);
            }

            var timeout = options.PermitTimeout ?? Options.DefaultPermitTimeout;
            try
            {
                await started.WaitAsync(timeout, TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
            {
                if (!await fiber.TryCancelPendingAsync("permit timeout").ConfigureAwait(false))
                {
                    // The permit arrived just as we gave up: the fiber started; report it.
                    return new StartResult(fiber.Snapshot(), Created: true);
                }

                if (exception is OperationCanceledException)
                {
                    throw;
                }

                throw ConcurrencyLimitReached(fiberId, $"no permit freed within {timeout}");
            }

            return fiber.HasRun ? new StartResult(fiber.Snapshot(), Created: true) : await EndedBeforeAdmissionAsync(fiber).ConfigureAwait(false);
        }
    }

    private enum ReplacementAdmission
    {
        /// <summary>It holds a permit: start it.</summary>
        HasPermit,

        /// <summary>It waits for a permit (its waiter is set): observe it.</summary>
        Waiting,

        /// <summary>It was interrupted (or replaced, or shut down) before it was admitted.</summary>
        Ended,
    }

    /// <summary>
    /// Waits until every fiber <paramref name="fiber"/> replaces has ended, then admits it like a
    /// new fiber: a free permit, or <see cref="AdmissionMode.Reject"/> (it ends, and the Start
    /// fails), or a place in the permit queue.
    /// </summary>
    private async Task<ReplacementAdmission> AdmitReplacementAsync(ManagedFiber<TInput, TOutput> fiber, StartOptions options, CancellationToken cancellationToken)
    {
        try
        {
            await fiber.PredecessorsEnded!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await fiber.TryCancelAwaitingAsync("start cancelled").ConfigureAwait(false);
            throw;
        }

        PermitPool.Waiter? waiter = null;
        lock (_lock)
        {
            if (!fiber.IsAwaitingAdmission)
            {
                return ReplacementAdmission.Ended;
            }

            if (_permits.TryAcquire())
            {
                return ReplacementAdmission.HasPermit;
            }

            if (options.Admission != AdmissionMode.Reject)
            {
                waiter = _permits.Enqueue();
                if (fiber.TrySetPermitWaiter(waiter))
                {
                    return ReplacementAdmission.Waiting;
                }
            }
        }

        if (waiter is not null)
        {
            // Interrupted between the check and the waiter: hand back what it may have been granted.
            if (!waiter.TryCancel())
            {
                ReleasePermit();
            }

            return ReplacementAdmission.Ended;
        }

        if (!await fiber.TryCancelAwaitingAsync("no permit").ConfigureAwait(false))
        {
            return ReplacementAdmission.Ended;
        }

        throw ConcurrencyLimitReached(fiber.Id, "no permit is free");
    }

    /// <summary>
    /// The Start of a fiber that ended before it ran (interrupted, replaced, or shut down while it
    /// waited for a permit or for the fiber it replaces): created, then ended; but when shutdown
    /// ended it, this Start created nothing: it fails, and no trace of the fiber is left.
    /// </summary>
    private async Task<StartResult> EndedBeforeAdmissionAsync(ManagedFiber<TInput, TOutput> fiber)
    {
        await fiber.Ended.ConfigureAwait(false);
        if (IsShuttingDown)
        {
            Forget(fiber);
            throw FiberSupervisorException.ShuttingDown();
        }

        return new StartResult(fiber.Snapshot(), Created: true);
    }

    /// <summary>Offers one input to the fiber.</summary>
    /// <exception cref="FiberSupervisorException">NotFound, Ended, Paused, InputQueueFull (reject mode), InvalidFiberId.</exception>
    /// <example><code>SubmitResult r = await manager.SubmitAsync("chat-1", "hello", FullQueueMode.Reject, submitId: "msg-17");</code></example>
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

        return SubmitObservedAsync(FindLive(fiberId), input, submitId, fullQueue, cancellationToken);
    }

    /// <summary>Pauses the fiber's input reader (idempotent); the item in progress finishes.</summary>
    /// <example><code>manager.Pause("chat-1");</code></example>
    public FiberInfo Pause(string fiberId) => FindLive(fiberId).Pause();

    /// <summary>Resumes the fiber's input reader (idempotent).</summary>
    /// <example><code>manager.Resume("chat-1");</code></example>
    public FiberInfo Resume(string fiberId) => FindLive(fiberId).Resume();

    /// <summary>
    /// Interrupts the fiber: cancels its workflow, waits up to <paramref name="grace"/> (default:
    /// the configured grace period) for it to stop, then abandons it. Interrupting an ended fiber
    /// returns its final state.
    /// </summary>
    /// <example><code>FiberInfo final = await manager.InterruptAsync("chat-1", TimeSpan.FromSeconds(2));</code></example>
    public async Task<FiberInfo> InterruptAsync(string fiberId, TimeSpan? grace = null, CancellationToken cancellationToken = default)
    {
        var fiber = Find(fiberId);
        if (grace is { } g && g < TimeSpan.Zero)
        {
            throw FiberSupervisorException.InvalidArgument("The grace period must not be negative.", "grace");
        }

        await fiber.InterruptAsync(grace ?? Options.InterruptGracePeriod, "interrupt").WaitAsync(cancellationToken).ConfigureAwait(false);
        return fiber.Snapshot();
    }

    /// <summary>The fiber's status (live, or ended and still retained).</summary>
    /// <example><code>FiberInfo info = manager.GetStatus("chat-1");</code></example>
    public FiberInfo GetStatus(string fiberId) => Find(fiberId).Snapshot();

    /// <summary>
    /// Subscribes to the fiber's events after <paramref name="afterSequence"/> (0: everything
    /// still in the replay window, then live). Works for retained ended fibers too (replay, then
    /// the terminated event).
    /// </summary>
    /// <example><code>using var subscription = manager.Subscribe("chat-1", afterSequence: lastSeen);</code></example>
    public FiberSubscription<TOutput> Subscribe(string fiberId, ulong afterSequence = 0) =>
        SubscribeObserved(Find(fiberId), afterSequence);

    /// <summary>
    /// Lists fibers (live and retained) matching <paramref name="query"/>, ordered by id, one page
    /// at a time. A page token is bound to the filters it was issued for (statuses, workflow,
    /// labels; the page size may change) and to this manager: reused with other filters, altered,
    /// or issued by another manager, it is refused with InvalidArgument.
    /// </summary>
    /// <exception cref="FiberSupervisorException">InvalidArgument: a negative page size, or a page token that is not valid for this query.</exception>
    /// <example><code>var page = manager.List(new FiberQuery { Statuses = [ManagedFiberStatus.Paused], PageSize = 50 });</code></example>
    public FiberPage List(FiberQuery? query = null)
    {
        query ??= new FiberQuery();
        if (query.PageSize < 0)
        {
            throw FiberSupervisorException.InvalidArgument("The page size must not be negative.", "page_size");
        }

        var pageSize = Math.Min(query.PageSize == 0 ? DefaultPageSize : query.PageSize, Options.MaxPageSize);
        var after = _pageTokens.Decode(query.PageToken, query);
        List<ManagedFiber<TInput, TOutput>> all;
        lock (_lock)
        {
            PruneRetentionLocked();
            all = new List<ManagedFiber<TInput, TOutput>>(_live.Count + _retained.Count);
            all.AddRange(_live.Values);
            foreach (var (id, fiber) in _retained)
            {
                if (!_live.ContainsKey(id))
                {
                    all.Add(fiber);
                }
            }
        }

        var statuses = query.Statuses is { Count: > 0 } s ? new HashSet<ManagedFiberStatus>(s) : null;
        var matching = new List<FiberInfo>();
        foreach (var fiber in all)
        {
            if (query.Workflow is { Length: > 0 } workflow && fiber.WorkflowName != workflow)
            {
                continue;
            }

            if (query.Labels is { Count: > 0 } labels && !labels.All(l => fiber.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            {
                continue;
            }

            var info = fiber.Snapshot();
            if (statuses is null || statuses.Contains(info.Status))
            {
                matching.Add(info);
            }
        }

        matching.Sort(static (a, b) => string.CompareOrdinal(a.FiberId, b.FiberId));
        var start = after is null ? 0 : matching.FindIndex(f => string.CompareOrdinal(f.FiberId, after) > 0);
        if (start < 0)
        {
            start = matching.Count;
        }

        var page = matching.Skip(start).Take(pageSize).ToList();
        var next = start + page.Count < matching.Count ? _pageTokens.Encode(page[^1].FiberId, query) : string.Empty;
        return new FiberPage(page, next, matching.Count);
    }

    /// <summary>Changes the global concurrency limit at run time; growing starts waiting fibers at once.</summary>
    /// <example><code>manager.SetConcurrencyLimit(2_000);</code></example>
    public void SetConcurrencyLimit(int maxConcurrentFibers)
    {
        if (maxConcurrentFibers < 1)
        {
            throw FiberSupervisorException.InvalidArgument($"The concurrency limit must be at least 1 (got {maxConcurrentFibers}).", "max_concurrent_fibers");
        }

        _permits.Resize(maxConcurrentFibers);
        Log.ConcurrencyLimitChanged(maxConcurrentFibers);
    }

    /// <summary>The live (not ended) fibers started with <see cref="StartOptions.Owner"/> = <paramref name="owner"/>.</summary>
    /// <example><code>int mine = manager.CountOwnedFibers("billing-service");</code></example>
    public int CountOwnedFibers(string owner)
    {
        ArgumentNullException.ThrowIfNull(owner);
        lock (_lock)
        {
            return _fibersByOwner.GetValueOrDefault(owner);
        }
    }

    /// <summary>Counters of the manager as a whole.</summary>
    public FiberSupervisorStatistics GetStatistics()
    {
        lock (_lock)
        {
            return new FiberSupervisorStatistics(
                _permits.Limit,
                _permits.InUse,
                _permits.Waiting,
                _live.Count,
                _pending,
                _retained.Count,
                Interlocked.Read(ref _abandoned),
                _shutdown is not null);
        }
    }

    /// <summary>
    /// Shuts down: stops admitting, interrupts every fiber with grace (in parallel), delivers
    /// every terminated event, and completes when all have ended (or been abandoned).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_shutdown is null)
            {
                // Before anything is interrupted: a permit released from now on admits nobody, so a
                // Start still waiting for one fails with ShuttingDown instead of starting its fiber.
                _permits.CloseGrants();
                _shutdown = ShutdownAsync();
            }

            return new ValueTask(_shutdown);
        }
    }

    /// <summary>Checks the manager's invariants; throws listing every violation. For tests and diagnostics.</summary>
    internal void CheckInvariants()
    {
        var errors = new List<string>();
        lock (_lock)
        {
            // Replaced fibers are out of the live map but still hold their permit until they end.
            var holding = _live.Values.Count(f => f.HoldsPermit) + _replaced.Count(f => f.HoldsPermit);
            if (holding != _permits.InUse)
            {
                errors.Add($"permits in use ({_permits.InUse}) != live fibers holding one ({holding})");
            }

            var pending = _live.Values.Concat(_replaced).Count(f => f.Status == ManagedFiberStatus.Pending);
            if (pending != _pending)
            {
                errors.Add($"pending counter ({_pending}) != pending fibers ({pending})");
            }

            foreach (var old in _replaced)
            {
                if (_live.TryGetValue(old.Id, out var successor) && successor.HasRun)
                {
                    errors.Add($"fiber {old.Id} runs its replacement before the replaced one ended");
                }
            }

            foreach (var fiber in _retained.Values)
            {
                if (!fiber.Status.IsTerminal())
                {
                    errors.Add($"retained fiber {fiber.Id} is {fiber.Status}");
                }
            }

            var counted = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var fiber in _live.Values.Concat(_retained.Values).Distinct())
            {
                if (fiber.CountsForOwner)
                {
                    counted[fiber.Owner!] = counted.GetValueOrDefault(fiber.Owner!) + 1;
                    if (fiber.HasEnded && _retained.ContainsKey(fiber.Id) && ReferenceEquals(_retained[fiber.Id], fiber))
                    {
                        errors.Add($"retained fiber {fiber.Id} still counts for owner {fiber.Owner}");
                    }
                }
            }

            foreach (var (owner, count) in _fibersByOwner)
            {
                if (count <= 0 || counted.GetValueOrDefault(owner) != count)
                {
                    errors.Add($"owner {owner} is counted {count} live fibers, holds {counted.GetValueOrDefault(owner)}");
                }
            }

            foreach (var (owner, count) in counted)
            {
                if (!_fibersByOwner.ContainsKey(owner))
                {
                    errors.Add($"owner {owner} holds {count} counted fibers but has no count");
                }
            }

            if (_retained.Count > Options.RetentionMaxCount)
            {
                errors.Add($"retained {_retained.Count} > {Options.RetentionMaxCount}");
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Fiber manager invariants violated: " + string.Join("; ", errors));
        }
    }

    internal void ReleasePermit() => _permits.Release();

    /// <summary>Takes an ended fiber out of its owner's count; only the first call for a fiber counts.</summary>
    internal void ReleaseOwner(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.Owner is null)
        {
            return;
        }

        lock (_lock)
        {
            ReleaseOwnerLocked(fiber);
        }
    }

    private void ReleaseOwnerLocked(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.Owner is null || !fiber.LeaveOwnerCount())
        {
            return;
        }

        var count = _fibersByOwner[fiber.Owner] - 1;
        Debug.Assert(count >= 0, "an owner's count never goes negative");
        if (count == 0)
        {
            _fibersByOwner.Remove(fiber.Owner);
        }
        else
        {
            _fibersByOwner[fiber.Owner] = count;
        }
    }

    internal void CountAbandoned() => Interlocked.Increment(ref _abandoned);

    internal void OnPermitGranted(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.LeavePendingCount())
        {
            lock (_lock)
            {
                _pending--;
            }
        }

        fiber.StartWithPermit(_scope);
    }

    /// <summary>The last step of a fiber's cleanup: out of the live map (if still its entry), into retention.</summary>
    internal void MoveToRetention(ManagedFiber<TInput, TOutput> fiber)
    {
        lock (_lock)
        {
            if (_live.TryGetValue(fiber.Id, out var current) && ReferenceEquals(current, fiber))
            {
                _live.Remove(fiber.Id);
            }

            _replaced.Remove(fiber);
            if (fiber.LeavePendingCount())
            {
                _pending--;
            }

            if (_retained.Remove(fiber.Id, out var older) && older.RetentionNode is not null)
            {
                _retentionOrder.Remove(older.RetentionNode);
                older.RetentionNode = null;
            }

            _retained[fiber.Id] = fiber;
            fiber.RetentionNode = _retentionOrder.AddLast(fiber);
            PruneRetentionLocked();
        }
    }

    /// <summary>
    /// Refuses a Start whose owner already holds its limit of live fibers. A fiber the Start would
    /// replace does not count when the same owner holds it (it ends before the new one registers).
    /// </summary>
    private void ThrowIfOwnerAtLimitLocked(string fiberId, StartOptions options, ManagedFiber<TInput, TOutput>? replacing)
    {
        if (options.Owner is not { } owner || options.MaxFibersPerOwner <= 0)
        {
            return;
        }

        var live = _fibersByOwner.GetValueOrDefault(owner);
        var freed = replacing is not null && replacing.Owner == owner && replacing.CountsForOwner ? 1 : 0;
        if (live - freed >= options.MaxFibersPerOwner)
        {
            throw new FiberSupervisorException(
                FiberErrorCode.OwnerFiberLimitReached,
                $"'{owner}' already holds {live} live fibers, its limit is {options.MaxFibersPerOwner}: interrupt one or wait for one to end.",
                fiberId,
                new Dictionary<string, string>
                {
                    ["owner"] = owner,
                    ["max_fibers"] = options.MaxFibersPerOwner.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["live_fibers"] = live.ToString(System.Globalization.CultureInfo.InvariantCulture),
                });
        }
    }

    private void CountForOwnerLocked(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.Owner is { } owner)
        {
            _fibersByOwner[owner] = _fibersByOwner.GetValueOrDefault(owner) + 1;
            fiber.MarkCountedForOwner();
        }
    }

    private int ValidateStart(string workflowName, StartOptions options)
    {
        if (string.IsNullOrWhiteSpace(workflowName))
        {
            throw FiberSupervisorException.InvalidArgument("The workflow name must not be empty.", "workflow");
        }

        var capacity = options.InputCapacity ?? Options.DefaultInputCapacity;
        if (capacity < 1 || capacity > Options.MaxInputCapacity)
        {
            throw FiberSupervisorException.InvalidArgument($"The input capacity must be between 1 and {Options.MaxInputCapacity} (got {capacity}).", "input_capacity");
        }

        if (options.PermitTimeout is { } timeout && timeout < TimeSpan.Zero)
        {
            throw FiberSupervisorException.InvalidArgument("The permit timeout must not be negative.", "permit_timeout");
        }

        if (options.Labels is { } labels)
        {
            if (labels.Count > Options.MaxLabels)
            {
                throw FiberSupervisorException.InvalidArgument($"At most {Options.MaxLabels} labels are allowed (got {labels.Count}).", "labels");
            }

            foreach (var (key, value) in labels)
            {
                if (string.IsNullOrEmpty(key) || key.Length > 63 || value is null || value.Length > 256 || key.Any(char.IsControl) || value.Any(char.IsControl))
                {
                    throw FiberSupervisorException.InvalidArgument("Label keys must be 1-63 characters and values at most 256, without control characters.", "labels");
                }
            }
        }

        if (options.MaxFibersPerOwner < 0)
        {
            throw FiberSupervisorException.InvalidArgument($"The per-owner fiber limit must not be negative (got {options.MaxFibersPerOwner}).", "max_fibers_per_owner");
        }

        if (options.RequestId is { Length: > 128 })
        {
            throw FiberSupervisorException.InvalidArgument("The request id must be at most 128 characters.", "request_id");
        }

        var restart = options.Restart ?? RestartPolicy.Never;
        if (restart.MaxRestarts < 0 || restart.MaxRestarts > 1_000)
        {
            throw FiberSupervisorException.InvalidArgument($"Max restarts must be between 0 and 1000 (got {restart.MaxRestarts}).", "restart_policy.max_restarts");
        }

        if (restart.MaxRestarts > 0 && (restart.InitialBackoff < TimeSpan.Zero || restart.InitialBackoff > TimeSpan.FromDays(1)
            || restart.MaxBackoff < restart.InitialBackoff || restart.MaxBackoff > TimeSpan.FromDays(1)))
        {
            throw FiberSupervisorException.InvalidArgument("The restart backoff must satisfy 0 <= initial <= max <= 1 day.", "restart_policy");
        }

        return capacity;
    }

    private ManagedFiber<TInput, TOutput> Find(string fiberId)
    {
        // Only valid ids are ever stored, so a live hit needs no validation (Submit's hot path); a
        // miss is validated below. (A copy is null-tested so that fiberId's own null state stays put.)
        var key = fiberId;
        if (key is not null)
        {
            lock (_lock)
            {
                if (_live.TryGetValue(key, out var live))
                {
                    return live;
                }
            }
        }

        FiberId.Validate(fiberId);
        lock (_lock)
        {
            if (_live.TryGetValue(fiberId, out var fiber))
            {
                return fiber;
            }

            PruneRetentionLocked();
            if (_retained.TryGetValue(fiberId, out fiber))
            {
                return fiber;
            }
        }

        throw FiberSupervisorException.NotFound(fiberId);
    }

    /// <summary>A fiber that has not ended (one ending right now reports Ended itself, under its own lock).</summary>
    private ManagedFiber<TInput, TOutput> FindLive(string fiberId)
    {
        var fiber = Find(fiberId);
        if (fiber.HasEnded)
        {
            throw FiberSupervisorException.Ended(fiberId, fiber.Status);
        }

        return fiber;
    }

    private bool IsShuttingDown
    {
        get
        {
            lock (_lock)
            {
                return _shutdown is not null;
            }
        }
    }

    /// <summary>Removes an ended fiber that never ran, and whose Start failed, from the live map and retention.</summary>
    private void Forget(ManagedFiber<TInput, TOutput> fiber)
    {
        Debug.Assert(fiber.HasEnded && !fiber.HasRun, "only an ended fiber that never ran is forgotten");
        fiber.MarkAdmissionFailed();
        lock (_lock)
        {
            if (_live.TryGetValue(fiber.Id, out var live) && ReferenceEquals(live, fiber))
            {
                _live.Remove(fiber.Id);
            }

            if (_retained.TryGetValue(fiber.Id, out var retained) && ReferenceEquals(retained, fiber))
            {
                _retained.Remove(fiber.Id);
                if (fiber.RetentionNode is { } node)
                {
                    _retentionOrder.Remove(node);
                    fiber.RetentionNode = null;
                }
            }
        }
    }

    private void PruneRetentionLocked()
    {
        var horizon = TimeProvider.GetUtcNow() - Options.RetentionPeriod;
        while (_retentionOrder.First is { } oldest
            && (_retentionOrder.Count > Options.RetentionMaxCount || oldest.Value.EndedAt <= horizon))
        {
            _retentionOrder.RemoveFirst();
            oldest.Value.RetentionNode = null;
            _retained.Remove(oldest.Value.Id);
        }
    }

    private void ThrowIfShuttingDownLocked()
    {
        if (_shutdown is not null)
        {
            throw FiberSupervisorException.ShuttingDown();
        }
    }

    private async Task ShutdownAsync()
    {
        await Task.Yield(); // leave the manager lock before interrupting anything
        ManagedFiber<TInput, TOutput>[] live;
        lock (_lock)
        {
            live = [.. _live.Values, .. _replaced];
        }

        Log.ShuttingDown(live.Length);
        await Task.WhenAll(live.Select(f => f.InterruptAsync(Options.InterruptGracePeriod, "shutdown"))).ConfigureAwait(false);

        // Fibers that ignored cancellation were abandoned above; do not wait for them again.
        _ = _scope.CloseAsync();
        Metrics.Dispose();
    }

    private FiberSupervisorException ConcurrencyLimitReached(string fiberId, string why) =>
        new(
            FiberErrorCode.ConcurrencyLimitReached,
            $"Concurrency limit reached: {why}.",
            fiberId,
            new Dictionary<string, string> { ["max_concurrent_fibers"] = _permits.Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) });
}
