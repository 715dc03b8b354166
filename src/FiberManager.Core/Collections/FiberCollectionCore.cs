using FiberManager.Core.Fibers;
using System.Diagnostics;

namespace FiberManager.Core.Collections;

/// <summary>
/// The engine behind <see cref="FiberSet"/>, <see cref="FiberMap{TKey}"/> and
/// <see cref="FiberHandle"/>: fibers stored under keys, removed by themselves when they end
/// (guarded by identity, so a replaced fiber that ends late never removes its successor),
/// interrupted when the collection is cleared or closed, and a sticky first failure for join.
/// </summary>
/// <remarks>
/// Invariants (DEBUG-checked at the start of every locked block):
/// <list type="bullet">
/// <item>once closed, no member is added and the dictionary ends empty after close;</item>
/// <item>the waiters' (<see cref="CollectionWaiters"/>: the empty waiter exists only while members
/// exist; the failure, once set, never changes).</item>
/// </list>
/// Waiters are completed outside the lock (except when a fiber that has already ended is stored:
/// see <see cref="CollectionWaiters"/>). Fibers are interrupted outside the lock. A member's
/// observer is registered under the lock that stores it, so it runs before any clear or close that
/// waits on the fiber.
/// </remarks>
[DebuggerDisplay("Count = {Count}, Closed = {IsClosed}")]
internal sealed class FiberCollectionCore<TKey>
    where TKey : notnull
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TKey, Member> _members;
    private readonly FiberScope _scope;
    private readonly long _finalizerRegistration;
    private bool _closed;
    private Task? _closeTask;
    private CollectionWaiters _waiters; // under _lock; a mutable struct: never copied

    public FiberCollectionCore(FiberScope scope, IEqualityComparer<TKey>? comparer)
    {
        ArgumentNullException.ThrowIfNull(scope);
        _scope = scope;
        _members = new Dictionary<TKey, Member>(comparer);
        Id = FiberRuntime.NextId();
        Interruptor = new Interruptor(InterruptorKind.Collection, Id);
        _finalizerRegistration = scope.TryAddFinalizerCore(() => new ValueTask(CloseMembersAsync()));
        if (_finalizerRegistration == 0)
        {
            _closed = true; // made in a closed scope: closed from the start
        }
    }

    public long Id { get; }

    public Interruptor Interruptor { get; }

    public FiberScope Scope => _scope;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _members.Count;
            }
        }
    }

    public bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closed;
            }
        }
    }

    /// <summary>Creates a fiber for <paramref name="body"/>, stores it under the key it picks, then starts it.</summary>
    public Fiber<T> Run<T>(Func<Fiber<T>, TKey> keyOf, object body, bool onlyIfMissing, bool propagateInterruption)
    {
        var fiber = _scope.Runtime.CreateUnowned<T>(_scope, body);
        TryStore(keyOf(fiber), fiber, onlyIfMissing, propagateInterruption);
        fiber.Start();
        return fiber;
    }

    /// <summary>
    /// Stores <paramref name="fiber"/> under <paramref name="key"/>. An existing fiber under the key
    /// is replaced (stored first, interrupted after) unless <paramref name="onlyIfMissing"/>.
    /// When the fiber is not stored (closed, or the key is taken with only-if-missing) it is
    /// interrupted and false is returned. Storing the fiber already stored under the key changes
    /// nothing and returns true.
    /// </summary>
    public bool TryStore(TKey key, Fiber fiber, bool onlyIfMissing, bool propagateInterruption)
    {
        ArgumentNullException.ThrowIfNull(fiber);
        var member = new Member(this, key, fiber, propagateInterruption);
        Member? replaced = null;
        bool stored;
        lock (_lock)
        {
            AssertInvariants();
            _members.TryGetValue(key, out var existing);
            if (existing is not null && ReferenceEquals(existing.Fiber, fiber))
            {
                // Already stored. As a replacement it would be interrupted as its own predecessor.
                return true;
            }

            if (_closed || (onlyIfMissing && existing is not null))
            {
                stored = false;
            }
            else
            {
                replaced = existing;
                _members[key] = member;
                // Observe before the lock is released, so no clear or close can start waiting on the
                // fiber ahead of its member: when it ends it leaves first, and whoever waited on it
                // finds it gone. (A fiber that has ended already leaves here, re-entering the lock.)
                fiber.AddObserver(member);
                stored = true;
            }
        }

        if (!stored)
        {
            fiber.Interrupt(Interruptor);
            return false;
        }

        replaced?.Fiber.Interrupt(Interruptor);
        return true;
    }

    public bool TryGet(TKey key, out Fiber? fiber)
    {
        lock (_lock)
        {
            var found = _members.TryGetValue(key, out var member);
            fiber = member?.Fiber;
            return found;
        }
    }

    public TKey[] Keys()
    {
        lock (_lock)
        {
            return [.. _members.Keys];
        }
    }

    /// <summary>Removes the fiber under <paramref name="key"/>, interrupts it and waits for it.</summary>
    public async Task<bool> RemoveAsync(TKey key)
    {
        Member? removed;
        object? changed;
        lock (_lock)
        {
            AssertInvariants();
            if (!_members.Remove(key, out removed))
            {
                return false;
            }

            changed = _waiters.MemberEndedLocked(failure: null, becameEmpty: _members.Count == 0);
        }

        if (changed is not null)
        {
            _waiters.Wake(changed, _lock);
        }

        removed.Fiber.Interrupt(Interruptor);
        await removed.Fiber.WhenDone().ConfigureAwait(false);
        return true;
    }

    /// <summary>Interrupts every member and waits for all of them; the collection stays open.</summary>
    public Task ClearAsync()
    {
        Fiber[] fibers;
        lock (_lock)
        {
            AssertInvariants();
            fibers = [.. _members.Values.Select(static m => m.Fiber)];
        }

        InterruptAll(fibers);
        return Fiber.WhenAllDone(fibers);
    }

    public Task AwaitEmptyAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        lock (_lock)
        {
            AssertInvariants();
            return _waiters.AwaitEmptyLocked(_members.Count, cancellationToken);
        }
    }

    /// <summary>Completes when the collection is empty; throws the first failure recorded.</summary>
    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? wait;
            lock (_lock)
            {
                AssertInvariants();
                wait = _waiters.JoinStepLocked(_members.Count);
            }

            if (wait is null)
            {
                return;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the collection: no more members; every member interrupted and awaited.</summary>
    public async Task CloseAsync()
    {
        await CloseMembersAsync().ConfigureAwait(false);
        // Only now: until the members have ended, a scope closing meanwhile must find this finalizer
        // (it returns the same close task) and wait for them too.
        _scope.RemoveFinalizer(_finalizerRegistration);
    }

    private Task CloseMembersAsync()
    {
        Fiber[] fibers;
        Task closing;
        lock (_lock)
        {
            AssertInvariants();
            _closed = true;
            if (_closeTask is not null)
            {
                return _closeTask;
            }

            fibers = [.. _members.Values.Select(static m => m.Fiber)];
            _closeTask = closing = Fiber.WhenAllDone(fibers);
        }

        InterruptAll(fibers);
        return closing;
    }

    // Never under the lock: an interrupt runs the fiber's token callbacks, and whatever they resume, inline.
    private void InterruptAll(Fiber[] fibers)
    {
        foreach (var fiber in fibers)
        {
            fiber.Interrupt(Interruptor);
        }
    }

    private void OnMemberDone(Member member)
    {
        var failure = CollectionWaiters.FailureOf(
            member.Fiber.GetExit(), member.Fiber.Id, member.PropagateInterruption, Interruptor);
        object? changed;
        lock (_lock)
        {
            AssertInvariants();
            var removed = _members.TryGetValue(member.Key, out var current) && ReferenceEquals(current, member)
                && _members.Remove(member.Key);
            changed = _waiters.MemberEndedLocked(failure, becameEmpty: removed && _members.Count == 0);
        }

        if (changed is not null)
        {
            _waiters.Wake(changed, _lock);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        _waiters.AssertInvariantsLocked(_members.Count);
    }

    private sealed class Member(FiberCollectionCore<TKey> owner, TKey key, Fiber fiber, bool propagateInterruption) : IFiberObserver
    {
        public TKey Key { get; } = key;

        public Fiber Fiber { get; } = fiber;

        public bool PropagateInterruption { get; } = propagateInterruption;

        public void OnFiberDone(Fiber fiber) => owner.OnMemberDone(this);
    }
}
