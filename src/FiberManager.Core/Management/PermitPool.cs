using System.Diagnostics;

namespace FiberManager.Core.Management;

/// <summary>
/// The manager's global concurrency limit: a FIFO semaphore whose size can change at run time.
/// A permit is handed to waiters strictly in arrival order; <see cref="TryAcquire"/> never
/// overtakes a waiter.
/// </summary>
/// <remarks>
/// Invariants (DEBUG-checked at the start of every locked block):
/// <list type="bullet">
/// <item><c>_inUse ≥ 0</c>;</item>
/// <item>waiters exist only while no permit is free (<c>_inUse ≥ _limit</c>), or once the pool is
/// closed for shutdown (<see cref="CloseGrants"/>: it grants nothing more, so a permit released by
/// a fiber the shutdown interrupts never starts a waiting one);</item>
/// <item>a waiter is granted or cancelled exactly once, decided under the lock.</item>
/// </list>
/// Shrinking below the permits in use takes effect as permits are released. Waiters are woken
/// outside the lock.
/// </remarks>
[DebuggerDisplay("InUse = {InUse}/{Limit}, Waiting = {Waiting}")]
internal sealed class PermitPool
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private int _limit;
    private int _inUse;
    private bool _grantsClosed;

    public PermitPool(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limit = limit;
    }

    public int Limit
    {
        get
        {
            lock (_lock)
            {
                return _limit;
            }
        }
    }

    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _inUse;
            }
        }
    }

    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Shutdown: waiters are granted nothing more (they stay queued until their owners cancel them).
    /// Called before any fiber is interrupted, so no released permit admits a waiting fiber.
    /// </summary>
    public void CloseGrants()
    {
        lock (_lock)
        {
            AssertInvariants();
            _grantsClosed = true;
        }
    }

    /// <summary>Takes a permit if one is free and nobody is waiting.</summary>
    public bool TryAcquire()
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_waiters.Count == 0 && _inUse < _limit)
            {
                _inUse++;
                return true;
            }

            return false;
        }
    }

    /// <summary>Queues for a permit; the waiter's task completes when the permit is granted.</summary>
    public Waiter Enqueue()
    {
        var waiter = new Waiter(this);
        lock (_lock)
        {
            AssertInvariants();
            if (_waiters.Count == 0 && _inUse < _limit)
            {
                _inUse++;
                waiter.State = WaiterState.Granted;
            }
            else
            {
                waiter.Node = _waiters.AddLast(waiter);
            }
        }

        if (waiter.State == WaiterState.Granted)
        {
            waiter.TrySetResult();
        }

        return waiter;
    }

    /// <summary>Returns a permit; the first waiter gets it if the limit allows.</summary>
    public void Release()
    {
        List<Waiter>? granted;
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(_inUse > 0, "Release matches an acquire");
            _inUse--;
            granted = GrantLocked();
        }

        Wake(granted);
    }

    /// <summary>Changes the limit; growing grants waiting permits at once.</summary>
    public void Resize(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        List<Waiter>? granted;
        lock (_lock)
        {
            AssertInvariants();
            _limit = limit;
            granted = GrantLocked();
        }

        Wake(granted);
    }

    private bool TryCancel(Waiter waiter)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (waiter.State != WaiterState.Waiting)
            {
                return false;
            }

            waiter.State = WaiterState.Cancelled;
            _waiters.Remove(waiter.Node!);
            waiter.Node = null;
        }

        return true;
    }

    private List<Waiter>? GrantLocked()
    {
        List<Waiter>? granted = null;
        while (!_grantsClosed && _inUse < _limit && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            first.Value.Node = null;
            first.Value.State = WaiterState.Granted;
            _inUse++;
            (granted ??= []).Add(first.Value);
        }

        return granted;
    }

    private static void Wake(List<Waiter>? granted)
    {
        if (granted is null)
        {
            return;
        }

        foreach (var waiter in granted)
        {
            waiter.TrySetResult();
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_inUse >= 0, "permits in use are never negative");
        Debug.Assert(_grantsClosed || _waiters.Count == 0 || _inUse >= _limit, "nobody waits while a permit is free (until grants close)");
    }

    internal enum WaiterState
    {
        Waiting,
        Granted,
        Cancelled,
    }

    /// <summary>A place in the queue. Its task completes when a permit is granted.</summary>
    internal sealed class Waiter(PermitPool pool) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        internal LinkedListNode<Waiter>? Node { get; set; }

        internal WaiterState State { get; set; } = WaiterState.Waiting;

        /// <summary>Leaves the queue; false when the permit was already granted (the caller then owns it).</summary>
        public bool TryCancel() => pool.TryCancel(this);
    }
}
