using System.Diagnostics;
using FiberManager.Core.Fibers;

namespace FiberManager.Core.Collections;

/// <summary>
/// The one supervision engine behind <see cref="FiberSet"/>, <see cref="FiberMap{TKey}"/> and
/// <see cref="FiberHandle"/>: self-cleaning members, interrupted (and awaited) when the collection
/// is cleared or closed or its scope closes, a sticky first failure for join, and waiters for
/// empty and join.
/// </summary>
/// <typeparam name="TKey">
/// What a keyed member is stored under: the map's key, <see cref="Unit"/> for the handle's single
/// slot, the fiber itself for a fiber added to a set.
/// </typeparam>
/// <remarks>
/// <para>Two kinds of member, one bookkeeping:</para>
/// <list type="bullet">
/// <item><description><b>Linked</b> (<see cref="RunLinked{T}"/>, a set's own fibers, its fast path): the
/// collection is the fiber's lifetime owner; the fiber is linked into the collection's intrusive list
/// (the links every fiber carries for its owner) and leaves it by itself when it completes
/// (<see cref="Leave"/>, called once by the fiber, its exit recorded). No dictionary entry, no observer
/// object, no hashing. Its propagate-interruption flag is the fiber's <c>ListFlag</c>.</description></item>
/// <item><description><b>Keyed</b> (<see cref="RunKeyed{T}"/> and <see cref="TryStore"/>: a map's and a
/// handle's fibers, fibers forked elsewhere and added to a set): stored under a key with an observer
/// (<see cref="Member"/>) registered under the lock that stores it, so it runs before any clear or close
/// that waits on the fiber. Storing under a key that holds another fiber replaces it: the new fiber is
/// stored first, the old one interrupted after (unless only-if-missing). Removal on completion is guarded
/// by identity (the member object), so a replaced fiber that ends late never removes its successor.</description></item>
/// </list>
/// <para>Invariants (DEBUG-checked at the start of every locked block, with the list's own): once closed,
/// nothing is added (linked or keyed); the member count is the linked plus the keyed ones; the waiters'
/// (<see cref="CollectionWaiters"/>: the empty waiter exists only while members exist; the failure, once
/// set, never changes). Waiters are completed outside the lock (for a leaving linked member, once the fiber
/// is done, so that a woken waiter finds its exit), except when a fiber that has ended already is stored
/// (see <see cref="CollectionWaiters"/>). Fibers are interrupted outside the lock: an interrupt runs the
/// fiber's token callbacks, and whatever they resume, inline.</para>
/// </remarks>
[DebuggerDisplay("Count = {MemberCount}, Closed = {IsClosed}")]
internal sealed class FiberCollectionCore<TKey> : FiberList
    where TKey : notnull
{
    private readonly FiberScope _scope;
    private readonly IEqualityComparer<TKey>? _comparer;
    private readonly long _finalizerRegistration;
    private Dictionary<TKey, Member>? _keyed; // created by the first keyed store
    private Task? _closeTask;
    private CollectionWaiters _waiters; // under SyncRoot; a mutable struct: never copied

    public FiberCollectionCore(FiberScope scope, IEqualityComparer<TKey>? comparer)
    {
        ArgumentNullException.ThrowIfNull(scope);
        _scope = scope;
        _comparer = comparer;
        Id = FiberRuntime.NextId();
        Interruptor = new Interruptor(InterruptorKind.Collection, Id);
        _finalizerRegistration = scope.TryAddFinalizerCore(() => new ValueTask(CloseMembersAsync()));
        if (_finalizerRegistration == 0)
        {
            _ = Close(); // made in a closed scope: closed from the start
        }
    }

    public long Id { get; }

    public Interruptor Interruptor { get; }

    /// <summary>Linked plus keyed members.</summary>
    public int MemberCount
    {
        get
        {
            lock (SyncRoot)
            {
                AssertInvariants();
                return MemberCountLocked;
            }
        }
    }

    private int MemberCountLocked => CountLocked + (_keyed?.Count ?? 0);

    /// <summary>
    /// Creates a fiber for <paramref name="body"/> whose lifetime owner is this collection (a linked
    /// member), then starts it (interrupted first, so its body never runs, if the collection is closed).
    /// </summary>
    public Fiber<T> RunLinked<T>(object body, bool propagateInterruption)
    {
        var fiber = new Fiber<T>(_scope.Runtime, null, _scope, body) { ListFlag = propagateInterruption };
        if (!TryAdd(fiber))
        {
            fiber.Interrupt(Interruptor);
        }

        fiber.Start();
        return fiber;
    }

    /// <summary>Creates a fiber for <paramref name="body"/>, stores it under <paramref name="key"/> (see <see cref="TryStore"/>), then starts it.</summary>
    public Fiber<T> RunKeyed<T>(TKey key, object body, bool onlyIfMissing, bool propagateInterruption)
    {
        var fiber = _scope.Runtime.CreateUnowned<T>(_scope, body);
        TryStore(key, fiber, onlyIfMissing, propagateInterruption);
        fiber.Start();
        return fiber;
    }

    /// <summary>
    /// Stores <paramref name="fiber"/> under <paramref name="key"/>. An existing fiber under the key
    /// is replaced (stored first, interrupted after) unless <paramref name="onlyIfMissing"/>.
    /// When the fiber is not stored (closed, or the key is taken with only-if-missing) it is
    /// interrupted and false is returned. A fiber that is a member already (stored under the key, or
    /// linked here) changes nothing and returns true.
    /// </summary>
    public bool TryStore(TKey key, Fiber fiber, bool onlyIfMissing, bool propagateInterruption)
    {
        ArgumentNullException.ThrowIfNull(fiber);
        Member? replaced = null;
        bool stored;
        lock (SyncRoot)
        {
            AssertInvariants();
            Member? existing = null;
            // ListOwner == this is written and cleared only under this lock: exact here.
            if (ReferenceEquals(fiber.ListOwner, this)
                || (_keyed is not null && _keyed.TryGetValue(key, out existing) && ReferenceEquals(existing.Fiber, fiber)))
            {
                // Already a member. As a replacement it would be interrupted as its own predecessor.
                return true;
            }

            if (IsClosedLocked || (onlyIfMissing && existing is not null))
            {
                stored = false;
            }
            else
            {
                var member = new Member(this, key, fiber, propagateInterruption);
                replaced = existing;
                (_keyed ??= new Dictionary<TKey, Member>(_comparer))[key] = member;
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
        lock (SyncRoot)
        {
            AssertInvariants();
            Member? member = null;
            var found = _keyed is not null && _keyed.TryGetValue(key, out member);
            fiber = member?.Fiber;
            return found;
        }
    }

    public TKey[] Keys()
    {
        lock (SyncRoot)
        {
            AssertInvariants();
            return _keyed is null ? [] : [.. _keyed.Keys];
        }
    }

    /// <summary>Removes the fiber under <paramref name="key"/>, interrupts it and waits for it.</summary>
    public async Task<bool> RemoveAsync(TKey key)
    {
        Member? removed = null;
        object? changed;
        lock (SyncRoot)
        {
            AssertInvariants();
            if (_keyed is null || !_keyed.Remove(key, out removed))
            {
                return false;
            }

            changed = _waiters.MemberEndedLocked(failure: null, becameEmpty: MemberCountLocked == 0);
        }

        if (changed is not null)
        {
            _waiters.Wake(changed, SyncRoot);
        }

        removed.Fiber.Interrupt(Interruptor);
        await removed.Fiber.WhenDone().ConfigureAwait(false);
        return true;
    }

    /// <summary>Interrupts every member and waits for all of them; the collection stays open.</summary>
    public Task ClearAsync()
    {
        Fiber[] fibers;
        lock (SyncRoot)
        {
            AssertInvariants();
            fibers = MembersLocked(SnapshotLocked());
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

        lock (SyncRoot)
        {
            AssertInvariants();
            return _waiters.AwaitEmptyLocked(MemberCountLocked, cancellationToken);
        }
    }

    /// <summary>Completes when the collection is empty; throws the first failure recorded.</summary>
    public async Task JoinAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? wait;
            lock (SyncRoot)
            {
                AssertInvariants();
                wait = _waiters.JoinStepLocked(MemberCountLocked);
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

    /// <summary>A linked member completed (called once by the fiber, its exit recorded): it leaves.</summary>
    internal override object? Leave(Fiber fiber)
    {
        var failure = CollectionWaiters.FailureOf(fiber.RecordedExit(), fiber.Id, fiber.ListFlag, Interruptor);
        lock (SyncRoot)
        {
            AssertInvariants();
            if (!UnlinkLocked(fiber))
            {
                return null;
            }

            return _waiters.MemberEndedLocked(failure, becameEmpty: MemberCountLocked == 0);
        }
    }

    /// <summary>Wakes, once the leaving fiber is done, what <see cref="Leave"/> returned.</summary>
    internal override void AfterLeft(object left) => _waiters.Wake(left, SyncRoot);

    private Task CloseMembersAsync()
    {
        Fiber[] fibers;
        Task closing;
        lock (SyncRoot)
        {
            AssertInvariants();
            var linked = CloseLocked();
            if (_closeTask is not null)
            {
                return _closeTask;
            }

            fibers = MembersLocked(linked);
            _closeTask = closing = Fiber.WhenAllDone(fibers);
        }

        InterruptAll(fibers);
        return closing;
    }

    /// <summary>The linked fibers given, plus the keyed ones; under the lock.</summary>
    private Fiber[] MembersLocked(Fiber[] linked)
    {
        if (_keyed is not { Count: > 0 } keyed)
        {
            return linked;
        }

        var fibers = new Fiber[linked.Length + keyed.Count];
        linked.CopyTo(fibers, 0);
        var i = linked.Length;
        foreach (var member in keyed.Values)
        {
            fibers[i++] = member.Fiber;
        }

        return fibers;
    }

    // Never under the lock: an interrupt runs the fiber's token callbacks, and whatever they resume, inline.
    private void InterruptAll(Fiber[] fibers)
    {
        foreach (var fiber in fibers)
        {
            fiber.Interrupt(Interruptor);
        }
    }

    private void OnKeyedMemberDone(Member member)
    {
        var failure = CollectionWaiters.FailureOf(
            member.Fiber.GetExit(), member.Fiber.Id, member.PropagateInterruption, Interruptor);
        object? changed;
        lock (SyncRoot)
        {
            AssertInvariants();
            // Identity-guarded: only this member's own entry goes (a successor stored under the key stays).
            var removed = _keyed is not null && _keyed.TryGetValue(member.Key, out var current) && ReferenceEquals(current, member)
                && _keyed.Remove(member.Key);
            changed = _waiters.MemberEndedLocked(failure, becameEmpty: removed && MemberCountLocked == 0);
        }

        if (changed is not null)
        {
            _waiters.Wake(changed, SyncRoot);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(SyncRoot.IsHeldByCurrentThread, "Invariants are checked under the collection's lock.");
        _waiters.AssertInvariantsLocked(MemberCountLocked);
    }

    /// <summary>A keyed member: what its completion removes (if it is still the one stored) and reports.</summary>
    [DebuggerDisplay("{Key}: {Fiber}")]
    private sealed class Member(FiberCollectionCore<TKey> owner, TKey key, Fiber fiber, bool propagateInterruption) : IFiberObserver
    {
        public TKey Key { get; } = key;

        public Fiber Fiber { get; } = fiber;

        public bool PropagateInterruption { get; } = propagateInterruption;

        public void OnFiberDone(Fiber fiber) => owner.OnKeyedMemberDone(this);
    }
}
