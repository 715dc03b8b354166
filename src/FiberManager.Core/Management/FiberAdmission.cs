using System.Diagnostics;
using System.Globalization;

namespace FiberManager.Core.Management;

/// <summary>
/// How a Start gets its fiber: the id conflict policy, the request-id idempotency, the owner's
/// limit, and the admission itself (a free permit, a place in the FIFO permit queue, or a
/// refusal); for a replacement, admission once the fiber it replaces has ended. It also keeps the
/// set of fibers waiting to be admitted (pending), bounded by <c>MaxPendingFibers</c>.
/// </summary>
/// <remarks>
/// A Start decides and registers under the registry's lock; it waits (for a permit, for the
/// fiber it replaces, for a fiber still finishing its cleanup) outside it. The pending set has its
/// own lock, taken after the registry's. Invariant: the pending set holds exactly the registered
/// fibers in AwaitingPredecessor or Pending (checked by <see cref="SupervisorInvariants"/> once
/// the supervisor is quiet: a fiber leaves its pending phase a moment before it leaves the set).
/// </remarks>
internal sealed class FiberAdmission<TInput, TOutput>
{
    private readonly Lock _lock = new();
    private readonly HashSet<ManagedFiber<TInput, TOutput>> _pending = [];
    private readonly FiberRegistry<TInput, TOutput> _registry;
    private readonly PermitPool _permits;
    private readonly FiberEnvironment _environment;
    private readonly IManagedFiberOwner<TInput, TOutput> _owner;

    public FiberAdmission(FiberRegistry<TInput, TOutput> registry, PermitPool permits, FiberEnvironment environment, IManagedFiberOwner<TInput, TOutput> owner)
    {
        _registry = registry;
        _permits = permits;
        _environment = environment;
        _owner = owner;
    }

    /// <summary>Fibers waiting to be admitted (for a permit, or for the fiber they replace).</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _pending.Count;
            }
        }
    }

    /// <summary>The fiber no longer waits to be admitted (it started, or ended); only the first call counts.</summary>
    public void LeavePending(ManagedFiber<TInput, TOutput> fiber)
    {
        lock (_lock)
        {
            AssertInvariants();
            _pending.Remove(fiber);
        }
    }

    /// <summary>A copy of the pending set (the invariant check; the caller holds the registry's lock).</summary>
    public ManagedFiber<TInput, TOutput>[] PendingSnapshot()
    {
        lock (_lock)
        {
            AssertInvariants();
            return [.. _pending];
        }
    }

    /// <summary>Starts <paramref name="workflow"/> under <paramref name="fiberId"/> (see <see cref="FiberSupervisor{TInput, TOutput}.StartAsync"/>).</summary>
    public async Task<StartResult> StartAsync(string fiberId, IWorkflow<TInput, TOutput> workflow, ValidatedStart start, CancellationToken cancellationToken)
    {
        var options = start.Options;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            ManagedFiber<TInput, TOutput>? ending = null;
            ManagedFiber<TInput, TOutput>? toReplace = null;
            ManagedFiber<TInput, TOutput> fiber;
            var admission = ManagedFiber<TInput, TOutput>.Admission.Running;
            lock (_registry.SyncRoot)
            {
                _registry.ThrowIfClosedLocked();
                if (_registry.TryGetLiveLocked(fiberId, out var existing))
                {
                    if (IsRetryOf(existing, options))
                    {
                        return new StartResult(existing.Snapshot(), Created: false);
                    }

                    if (existing.HasEnded)
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
                else if (options.RequestId is not null && _registry.TryGetRetainedLocked(fiberId, out var ended) && IsRetryOf(ended, options))
                {
                    return new StartResult(ended.Snapshot(), Created: false);
                }

                if (ending is null)
                {
                    // Before anything is interrupted: a replacement the owner may not hold must not
                    // cost the fiber it would replace.
                    ThrowIfOwnerAtLimitLocked(fiberId, options, toReplace);
                    fiber = new ManagedFiber<TInput, TOutput>(_owner, _environment, fiberId, workflow, start);
                    if (toReplace is not null)
                    {
                        // The new fiber is stored before the old one is interrupted (the FiberMap rule),
                        // so the id never resolves to an ended fiber or to nothing: it is Pending
                        // (inputs are buffered, subscribers and status see it) and is admitted once
                        // every fiber it replaces has ended, so that one id never runs two workflows at once.
                        fiber.AwaitPredecessors(toReplace.PredecessorsEnded is { } earlier ? Task.WhenAll(toReplace.Ended, earlier) : toReplace.Ended);
                        EnterPending(fiber);
                        _registry.ReplaceLocked(toReplace, fiber);
                    }
                    else
                    {
                        admission = AdmitNewLocked(fiber, options);
                        _registry.AddLocked(fiber);
                    }
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
                _environment.Log.FiberReplacing(fiberId);
                _ = toReplace.InterruptAsync(_environment.Settings.InterruptGracePeriod, "replace");
                return await AdmitReplacementAsync(fiber, start, cancellationToken).ConfigureAwait(false);
            }

            return admission == ManagedFiber<TInput, TOutput>.Admission.Running || options.Admission == AdmissionMode.Queue
                ? new StartResult(fiber.Snapshot(), Created: true)
                : await WaitForPermitAsync(fiber, start, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A Start with the request id of the Start that created <paramref name="fiber"/> (which did not fail): a retry.</summary>
    private static bool IsRetryOf(ManagedFiber<TInput, TOutput> fiber, StartOptions options) =>
        options.RequestId is not null && fiber.RequestId == options.RequestId && !fiber.StartFailed;

    /// <summary>Admits a new fiber: a free permit, else (unless Reject, or too many wait) a place in the queue.</summary>
    private ManagedFiber<TInput, TOutput>.Admission AdmitNewLocked(ManagedFiber<TInput, TOutput> fiber, StartOptions options)
    {
        var pending = PendingCount;
        var mayQueue = options.Admission != AdmissionMode.Reject && pending < _environment.Settings.MaxPendingFibers;

        // Counted before it can be queued: its permit may be delivered (and the count left) as soon as it is.
        if (mayQueue)
        {
            EnterPending(fiber);
        }

        var admission = fiber.Admit(_permits, mayQueue);
        if (admission != ManagedFiber<TInput, TOutput>.Admission.Queued)
        {
            LeavePending(fiber);
        }

        return admission switch
        {
            ManagedFiber<TInput, TOutput>.Admission.NoPermit when options.Admission == AdmissionMode.Reject => throw ConcurrencyLimitReached(fiber.Id, "no permit is free"),
            ManagedFiber<TInput, TOutput>.Admission.NoPermit => throw ConcurrencyLimitReached(fiber.Id, $"{pending} fibers already wait for a permit"),
            _ => admission,
        };
    }

    /// <summary>
    /// Waits until every fiber <paramref name="fiber"/> replaces has ended, then admits it like a
    /// new fiber: a free permit, or <see cref="AdmissionMode.Reject"/> (it ends, and the Start
    /// fails), or a place in the permit queue.
    /// </summary>
    private async Task<StartResult> AdmitReplacementAsync(ManagedFiber<TInput, TOutput> fiber, ValidatedStart start, CancellationToken cancellationToken)
    {
        try
        {
            await fiber.PredecessorsEnded!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await fiber.TryWithdrawAsync("start cancelled").ConfigureAwait(false);
            throw;
        }

        var mode = start.Options.Admission;
        switch (fiber.Admit(_permits, mayQueue: mode != AdmissionMode.Reject))
        {
            case ManagedFiber<TInput, TOutput>.Admission.Running:
                return new StartResult(fiber.Snapshot(), Created: true);
            case ManagedFiber<TInput, TOutput>.Admission.Queued:
                return mode == AdmissionMode.Queue
                    ? new StartResult(fiber.Snapshot(), Created: true)
                    : await WaitForPermitAsync(fiber, start, cancellationToken).ConfigureAwait(false);
            case ManagedFiber<TInput, TOutput>.Admission.NoPermit:
                if (await fiber.TryWithdrawAsync("no permit").ConfigureAwait(false))
                {
                    throw ConcurrencyLimitReached(fiber.Id, "no permit is free");
                }

                return await EndedBeforeAdmissionAsync(fiber).ConfigureAwait(false);
            default:
                return await EndedBeforeAdmissionAsync(fiber).ConfigureAwait(false);
        }
    }

    /// <summary>Admission <see cref="AdmissionMode.Wait"/>: waits for the queued fiber's permit, up to the permit timeout or the caller's cancellation.</summary>
    private async Task<StartResult> WaitForPermitAsync(ManagedFiber<TInput, TOutput> fiber, ValidatedStart start, CancellationToken cancellationToken)
    {
        try
        {
            await fiber.Admitted.WaitAsync(start.PermitTimeout, _environment.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
        {
            if (!await fiber.TryWithdrawAsync("permit timeout").ConfigureAwait(false))
            {
                // The permit arrived just as we gave up: the fiber started; report it.
                return new StartResult(fiber.Snapshot(), Created: true);
            }

            if (exception is OperationCanceledException)
            {
                throw;
            }

            throw ConcurrencyLimitReached(fiber.Id, $"no permit freed within {start.PermitTimeout}");
        }

        return fiber.HasRun ? new StartResult(fiber.Snapshot(), Created: true) : await EndedBeforeAdmissionAsync(fiber).ConfigureAwait(false);
    }

    /// <summary>
    /// The Start of a fiber that ended before it ran (interrupted, replaced, or shut down while it
    /// waited for a permit or for the fiber it replaces): created, then ended; but when shutdown
    /// ended it, this Start created nothing: it fails, and no trace of the fiber is left.
    /// </summary>
    private async Task<StartResult> EndedBeforeAdmissionAsync(ManagedFiber<TInput, TOutput> fiber)
    {
        await fiber.Ended.ConfigureAwait(false);
        Debug.Assert(!fiber.HasRun, "Only a fiber that never ran ends before its admission.");
        if (_registry.IsClosed)
        {
            _registry.Forget(fiber);
            throw FiberSupervisorException.ShuttingDown();
        }

        return new StartResult(fiber.Snapshot(), Created: true);
    }

    /// <summary>
    /// Refuses a Start whose owner already holds its limit of live fibers. A fiber the Start would
    /// replace does not count when the same owner holds it (it ends before the new one runs).
    /// </summary>
    private void ThrowIfOwnerAtLimitLocked(string fiberId, StartOptions options, ManagedFiber<TInput, TOutput>? replacing)
    {
        if (options.Owner is not { } owner || options.MaxFibersPerOwner <= 0)
        {
            return;
        }

        var live = _registry.CountOwnedLocked(owner);
        var freed = replacing is not null && replacing.Owner == owner && _registry.CountsForOwnerLocked(replacing) ? 1 : 0;
        if (live - freed >= options.MaxFibersPerOwner)
        {
            throw new FiberSupervisorException(
                FiberErrorCode.OwnerFiberLimitReached,
                $"'{owner}' already holds {live} live fibers, its limit is {options.MaxFibersPerOwner}: interrupt one or wait for one to end.",
                fiberId,
                new Dictionary<string, string>
                {
                    ["owner"] = owner,
                    ["max_fibers"] = options.MaxFibersPerOwner.ToString(CultureInfo.InvariantCulture),
                    ["live_fibers"] = live.ToString(CultureInfo.InvariantCulture),
                });
        }
    }

    private void EnterPending(ManagedFiber<TInput, TOutput> fiber)
    {
        lock (_lock)
        {
            AssertInvariants();
            _pending.Add(fiber);
        }
    }

    /// <summary>
    /// The pending set's own invariants are about other objects' phases, which change under their
    /// own locks first (see the remarks); what holds at every instant is checked here.
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "The pending set is used under its lock.");
        Debug.Assert(!_pending.Contains(null!), "The pending set holds fibers.");
    }

    private FiberSupervisorException ConcurrencyLimitReached(string fiberId, string why) =>
        new(
            FiberErrorCode.ConcurrencyLimitReached,
            $"Concurrency limit reached: {why}.",
            fiberId,
            new Dictionary<string, string> { ["max_concurrent_fibers"] = _permits.Limit.ToString(CultureInfo.InvariantCulture) });
}
