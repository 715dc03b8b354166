using FiberManager.Core.Fibers;
using System.Diagnostics;

namespace FiberManager.Core.Collections;

/// <summary>
/// The engine behind <see cref="FiberSet"/>: the semantics of <see cref="FiberCollectionCore{TKey}"/>
/// for a set, without a dictionary or an observer object per member for the fibers the set runs.
/// </summary>
/// <remarks>
/// <para>A fiber run in the set has the set as its lifetime owner: it is linked into the set's
/// intrusive list (the links every fiber carries for its owner) and leaves it by itself when it
/// completes (<see cref="Leave"/>, called once by the fiber, its exit recorded). Its
/// propagate-interruption flag is the fiber's <c>ListFlag</c>. A fiber forked elsewhere and added
/// has another owner already, so it is kept in a dictionary with an observer, as a collection does.</para>
/// <para>Invariants: once closed, nothing is added; the waiters' (<see cref="CollectionWaiters"/>),
/// DEBUG-checked at the start of every locked block. Waiters are completed outside the lock (for a
/// leaving member, once the fiber is done, so that a woken waiter finds its exit), except when an
/// added fiber has ended already (see <see cref="CollectionWaiters"/>). Fibers are interrupted
/// outside the lock.</para>
/// </remarks>
[DebuggerDisplay("Count = {MemberCount}, Closed = {IsClosed}")]
internal sealed class FiberSetCore : FiberList
{
    private readonly FiberScope _scope;
    private readonly long _finalizerRegistration;
    private Dictionary<Fiber, Added>? _added;
    private Task? _closeTask;
    private CollectionWaiters _waiters; // under SyncRoot; a mutable struct: never copied

    public FiberSetCore(FiberScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        _scope = scope;
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

    /// <summary>Members run here plus members added.</summary>
    public int MemberCount
    {
        get
        {
            lock (SyncRoot)
            {
                return MemberCountLocked;
            }
        }
    }

    private int MemberCountLocked => CountLocked + (_added?.Count ?? 0);

    /// <summary>Creates a fiber for <paramref name="body"/> owned by the set, then starts it (interrupted first if the set is closed).</summary>
    public Fiber<T> Run<T>(object body, bool propagateInterruption)
    {
        var fiber = new Fiber<T>(_scope.Runtime, null, _scope, body) { ListFlag = propagateInterruption };
        if (!TryAdd(fiber))
        {
            fiber.Interrupt(Interruptor);
        }

        fiber.Start();
        return fiber;
    }

    /// <summary>
    /// Adds a fiber forked elsewhere; when the set is closed it is interrupted and false is
    /// returned. Adding a member (run or added here) changes nothing and returns true.
    /// </summary>
    public bool TryAddForeign(Fiber fiber, bool propagateInterruption)
    {
        ArgumentNullException.ThrowIfNull(fiber);
        bool stored;
        lock (SyncRoot)
        {
            AssertInvariants();
            // ListOwner == this is written and cleared only under this lock: exact here.
            if (ReferenceEquals(fiber.ListOwner, this) || (_added?.ContainsKey(fiber) ?? false))
            {
                return true;
            }

            if (IsClosedLocked)
            {
                stored = false;
            }
            else
            {
                var member = new Added(this, fiber, propagateInterruption);
                (_added ??= new Dictionary<Fiber, Added>(ReferenceEqualityComparer.Instance))[fiber] = member;
                // Observe before the lock is released, so no clear or close can start waiting on the
                // fiber ahead of its member. (A fiber that has ended already leaves here, re-entering the lock.)
                fiber.AddObserver(member);
                stored = true;
            }
        }

        if (!stored)
        {
            fiber.Interrupt(Interruptor);
        }

        return stored;
    }

    /// <summary>Interrupts every member and waits for all of them; the set stays open.</summary>
    public Task ClearAsync()
    {
        Fiber[] fibers;
        lock (SyncRoot)
        {
            AssertInvariants();
            fibers = WithAddedLocked(SnapshotLocked());
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

    /// <summary>Completes when the set is empty; throws the first failure recorded.</summary>
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

    /// <summary>Closes the set: no more members; every member interrupted and awaited.</summary>
    public async Task CloseAsync()
    {
        await CloseMembersAsync().ConfigureAwait(false);
        // Only now: until the members have ended, a scope closing meanwhile must find this finalizer
        // (it returns the same close task) and wait for them too.
        _scope.RemoveFinalizer(_finalizerRegistration);
    }

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

            fibers = WithAddedLocked(linked);
            _closeTask = closing = Fiber.WhenAllDone(fibers);
        }

        InterruptAll(fibers);
        return closing;
    }

    private Fiber[] WithAddedLocked(Fiber[] linked) =>
        _added is { Count: > 0 } added ? [.. linked, .. added.Keys] : linked;

    // Never under the lock: an interrupt runs the fiber's token callbacks, and whatever they resume, inline.
    private void InterruptAll(Fiber[] fibers)
    {
        foreach (var fiber in fibers)
        {
            fiber.Interrupt(Interruptor);
        }
    }

    private void OnAddedDone(Added member)
    {
        var failure = CollectionWaiters.FailureOf(
            member.Fiber.GetExit(), member.Fiber.Id, member.PropagateInterruption, Interruptor);
        object? changed;
        lock (SyncRoot)
        {
            AssertInvariants();
            var removed = _added is not null && _added.TryGetValue(member.Fiber, out var current) && ReferenceEquals(current, member)
                && _added.Remove(member.Fiber);
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
        _waiters.AssertInvariantsLocked(MemberCountLocked);
    }

    private sealed class Added(FiberSetCore owner, Fiber fiber, bool propagateInterruption) : IFiberObserver
    {
        public Fiber Fiber { get; } = fiber;

        public bool PropagateInterruption { get; } = propagateInterruption;

        public void OnFiberDone(Fiber fiber) => owner.OnAddedDone(this);
    }
}
