using System.Diagnostics;

namespace FiberManager.Core.Management;

/// <summary>
/// Where a supervisor's fibers are: the live one under each id, the replaced ones still ending,
/// the ended ones kept for the retention window, and the live fibers each owner holds.
/// </summary>
/// <remarks>
/// <para>
/// Its lock (<see cref="SyncRoot"/>) is the supervisor's main lock: a Start holds it while it
/// decides and registers (with <c>…Locked</c> members); everything else takes it inside the
/// members. Lock order: this lock, then the admission's, then a fiber's.
/// </para>
/// <para>
/// Invariants (DEBUG-checked at the start of every locked block): an id maps to at most one live
/// fiber; a replaced fiber is not the live one under its id; every fiber in retention appears once
/// in the retention order and at most <c>RetentionMaxCount</c> are kept (pruning runs whenever a
/// fiber enters retention); an owner is listed only while it holds at least one fiber; once
/// closed (shutdown) nothing new is registered.
/// </para>
/// </remarks>
[DebuggerDisplay("Live = {_live.Count}, Replaced = {_replaced.Count}, Retained = {_retained.Count}")]
internal sealed class FiberRegistry<TInput, TOutput>
{
    private readonly Dictionary<string, ManagedFiber<TInput, TOutput>> _live = new(StringComparer.Ordinal);
    private readonly HashSet<ManagedFiber<TInput, TOutput>> _replaced = [];
    private readonly Dictionary<string, ManagedFiber<TInput, TOutput>> _retained = new(StringComparer.Ordinal);
    private readonly LinkedList<ManagedFiber<TInput, TOutput>> _retentionOrder = new();
    private readonly Dictionary<string, HashSet<ManagedFiber<TInput, TOutput>>> _byOwner = new(StringComparer.Ordinal);
    private readonly SupervisorSettings _settings;
    private readonly TimeProvider _timeProvider;
    private bool _closed;

    public FiberRegistry(SupervisorSettings settings, TimeProvider timeProvider)
    {
        _settings = settings;
        _timeProvider = timeProvider;
    }

    /// <summary>The supervisor's main lock (see the remarks).</summary>
    public Lock SyncRoot { get; } = new();

    /// <summary>True once shutdown began: nothing new is registered.</summary>
    public bool IsClosed
    {
        get
        {
            lock (SyncRoot)
            {
                AssertInvariants();
                return _closed;
            }
        }
    }

    /// <summary>Throws ShuttingDown once closed; the caller holds <see cref="SyncRoot"/>.</summary>
    public void ThrowIfClosedLocked()
    {
        AssertInvariants();
        if (_closed)
        {
            throw FiberSupervisorException.ShuttingDown();
        }
    }

    /// <summary>Stops registering; returns every fiber that has not ended yet (live and replaced), for the shutdown to interrupt.</summary>
    public ManagedFiber<TInput, TOutput>[] Close()
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            _closed = true;
            return [.. _live.Values, .. _replaced];
        }
    }

    /// <summary>The fiber under <paramref name="fiberId"/>: the live one, else the retained one.</summary>
    /// <exception cref="FiberSupervisorException">InvalidFiberId, NotFound.</exception>
    public ManagedFiber<TInput, TOutput> Find(string fiberId)
    {
        // Only valid ids are ever stored, so a live hit needs no validation (Submit's hot path); a
        // miss is validated below. (A copy is null-tested so that fiberId's own null state stays put.)
        var key = fiberId;
        if (key is not null)
        {
            lock (SyncRoot)
            {
                AssertInvariants();
                if (_live.TryGetValue(key, out var live))
                {
                    return live;
                }
            }
        }

        FiberId.Validate(fiberId);
        lock (SyncRoot)
        {
            AssertInvariants();
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

    /// <summary>Every fiber a List may show: the live ones, and the retained ones whose id has no live fiber.</summary>
    public List<ManagedFiber<TInput, TOutput>> Visible()
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            PruneRetentionLocked();
            var all = new List<ManagedFiber<TInput, TOutput>>(_live.Count + _retained.Count);
            all.AddRange(_live.Values);
            foreach (var (id, fiber) in _retained)
            {
                if (!_live.ContainsKey(id))
                {
                    all.Add(fiber);
                }
            }

            return all;
        }
    }

    /// <summary>Live fibers and retained fibers (for the statistics).</summary>
    public (int Live, int Retained) Count()
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            return (_live.Count, _retained.Count);
        }
    }

    /// <summary>The live fibers <paramref name="owner"/> holds (registered, not yet ended).</summary>
    public int CountOwned(string owner)
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            return CountOwnedLocked(owner);
        }
    }

    public int CountOwnedLocked(string owner) => _byOwner.TryGetValue(owner, out var fibers) ? fibers.Count : 0;

    /// <summary>True while <paramref name="fiber"/> counts towards its owner's live fibers.</summary>
    public bool CountsForOwnerLocked(ManagedFiber<TInput, TOutput> fiber) =>
        fiber.Owner is { } owner && _byOwner.TryGetValue(owner, out var fibers) && fibers.Contains(fiber);

    public bool TryGetLiveLocked(string fiberId, out ManagedFiber<TInput, TOutput> fiber) => _live.TryGetValue(fiberId, out fiber!);

    public bool TryGetRetainedLocked(string fiberId, out ManagedFiber<TInput, TOutput> fiber)
    {
        PruneRetentionLocked();
        return _retained.TryGetValue(fiberId, out fiber!);
    }

    /// <summary>Registers a new fiber under its id (nothing live may hold it) and counts it for its owner.</summary>
    public void AddLocked(ManagedFiber<TInput, TOutput> fiber)
    {
        AssertInvariants();
        Debug.Assert(!_closed, "Nothing is registered once closed.");
        Debug.Assert(!_live.ContainsKey(fiber.Id), "An id maps to at most one live fiber.");
        _live[fiber.Id] = fiber;
        if (fiber.Owner is { } owner)
        {
            if (!_byOwner.TryGetValue(owner, out var fibers))
            {
                _byOwner[owner] = fibers = [];
            }

            fibers.Add(fiber);
        }
    }

    /// <summary>
    /// Stores <paramref name="successor"/> under the id of the live <paramref name="replaced"/>,
    /// which moves to the replaced set (it still holds its permit until it ends) and leaves its
    /// owner's count (its slot goes to the successor).
    /// </summary>
    public void ReplaceLocked(ManagedFiber<TInput, TOutput> replaced, ManagedFiber<TInput, TOutput> successor)
    {
        AssertInvariants();
        Debug.Assert(_live.TryGetValue(replaced.Id, out var current) && ReferenceEquals(current, replaced), "Only the live fiber is replaced.");
        _live.Remove(replaced.Id);
        _replaced.Add(replaced);
        LeaveOwnerLocked(replaced);
        AddLocked(successor);
    }

    /// <summary>The fiber's status is final: it stops counting for its owner (once; no-op after a replace).</summary>
    public void LeaveOwner(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.Owner is null)
        {
            return;
        }

        lock (SyncRoot)
        {
            AssertInvariants();
            LeaveOwnerLocked(fiber);
        }
    }

    /// <summary>The last step of a fiber's cleanup: out of the live map (if still its entry) and the replaced set, into retention.</summary>
    public void MoveToRetention(ManagedFiber<TInput, TOutput> fiber)
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            if (_live.TryGetValue(fiber.Id, out var current) && ReferenceEquals(current, fiber))
            {
                _live.Remove(fiber.Id);
            }

            _replaced.Remove(fiber);
            LeaveOwnerLocked(fiber);
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

    /// <summary>Removes an ended fiber whose Start failed (shutdown while it waited) from the live map and retention: no trace is left.</summary>
    public void Forget(ManagedFiber<TInput, TOutput> fiber)
    {
        lock (SyncRoot)
        {
            AssertInvariants();
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

    /// <summary>Runs <paramref name="visit"/> over the registry's contents under its lock (the invariant check).</summary>
    public void Inspect(Action<RegistryView> visit)
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            visit(new RegistryView(_live, _replaced, _retained, _byOwner, _settings.RetentionMaxCount));
        }
    }

    private void LeaveOwnerLocked(ManagedFiber<TInput, TOutput> fiber)
    {
        if (fiber.Owner is { } owner && _byOwner.TryGetValue(owner, out var fibers) && fibers.Remove(fiber) && fibers.Count == 0)
        {
            _byOwner.Remove(owner);
        }
    }

    private void PruneRetentionLocked()
    {
        var horizon = _timeProvider.GetUtcNow() - _settings.RetentionPeriod;
        while (_retentionOrder.First is { } oldest
            && (_retentionOrder.Count > _settings.RetentionMaxCount || oldest.Value.EndedAt <= horizon))
        {
            _retentionOrder.RemoveFirst();
            oldest.Value.RetentionNode = null;
            _retained.Remove(oldest.Value.Id);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Invariants are checked under the registry's lock.");
        Debug.Assert(_retained.Count == _retentionOrder.Count, "Every retained fiber is in the retention order once.");
        Debug.Assert(_retained.Count <= _settings.RetentionMaxCount, "Retention keeps at most its maximum.");
        Debug.Assert(_byOwner.Values.All(fibers => fibers.Count > 0), "An owner is listed only while it holds a fiber.");
        Debug.Assert(_replaced.All(f => !_live.TryGetValue(f.Id, out var live) || !ReferenceEquals(live, f)), "A replaced fiber is not the live one under its id.");
    }

    /// <summary>A read-only look at the registry, valid only inside <see cref="Inspect"/>.</summary>
    internal readonly record struct RegistryView(
        IReadOnlyDictionary<string, ManagedFiber<TInput, TOutput>> Live,
        IReadOnlySet<ManagedFiber<TInput, TOutput>> Replaced,
        IReadOnlyDictionary<string, ManagedFiber<TInput, TOutput>> Retained,
        IReadOnlyDictionary<string, HashSet<ManagedFiber<TInput, TOutput>>> ByOwner,
        int RetentionMaxCount);
}
