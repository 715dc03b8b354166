using System.Diagnostics;

namespace FiberManager.Core.Management;

/// <summary>
/// The supervisor's global concurrency limit: a FIFO semaphore whose size can change at run time.
/// A permit is handed to waiters strictly in arrival order; <see cref="TryAcquire"/> never
/// overtakes a waiter.
/// </summary>
/// <remarks>
/// <para>
/// A waiter is an <see cref="IPermitRecipient"/> (a pending managed fiber). The pool decides a
/// grant under its lock and delivers it after releasing the lock, by calling
/// <see cref="IPermitRecipient.OnPermitGranted"/> on the releasing thread. Between the two, the
/// waiter is <see cref="WaiterState.Granted"/>: the permit is counted in use and belongs to the
/// waiter, and exactly one of two things happens, decided by the recipient under its own lock: it
/// accepts the delivery (<see cref="Waiter.TryClaim"/>), or whoever withdraws it first takes the
/// permit over (<see cref="Waiter.TryWithdraw"/> answers <see cref="WithdrawResult.PermitTaken"/>).
/// So a pending fiber interrupted while its permit is on its way never strands that permit.
/// </para>
/// <para>
/// Invariants (DEBUG-checked at the start of every locked block): <c>_inUse ≥ 0</c>; waiters
/// exist only while no permit is free (<c>_inUse ≥ _limit</c>), or once grants are closed for
/// shutdown (<see cref="CloseGrants"/>: a permit released by a fiber the shutdown interrupts never
/// starts a waiting one); every queued waiter is <see cref="WaiterState.Waiting"/>. Shrinking below
/// the permits in use takes effect as permits are released. Recipients are called outside the lock.
/// </para>
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

    /// <summary>What <see cref="Waiter.TryWithdraw"/> found.</summary>
    public enum WithdrawResult
    {
        /// <summary>It was still queued: it left the queue and holds nothing.</summary>
        Withdrawn,

        /// <summary>Its permit was granted but not yet delivered: the caller now holds that permit (and must release it).</summary>
        PermitTaken,

        /// <summary>Its recipient already accepted the permit.</summary>
        AlreadyDelivered,
    }

    /// <summary>Where a waiter is in its life.</summary>
    public enum WaiterState
    {
        /// <summary>In the queue.</summary>
        Waiting,

        /// <summary>Granted a permit, not yet delivered.</summary>
        Granted,

        /// <summary>The recipient accepted the permit.</summary>
        Delivered,

        /// <summary>Withdrawn after the grant: the withdrawer holds the permit.</summary>
        Taken,

        /// <summary>Withdrawn from the queue before any grant.</summary>
        Cancelled,
    }

    public int Limit
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
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
                AssertInvariants();
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
                AssertInvariants();
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Shutdown: waiters are granted nothing more (they stay queued until their owners withdraw
    /// them). Called before any fiber is interrupted, so no released permit admits a waiting fiber.
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
            return TryAcquireLocked();
        }
    }

    /// <summary>
    /// Takes a permit if one is free and nobody is waiting (true); otherwise queues
    /// <paramref name="recipient"/> (false, with its <paramref name="waiter"/>), which is called
    /// when its permit is granted. Nothing is delivered from inside this call.
    /// </summary>
    public bool TryAcquireOrEnqueue(IPermitRecipient recipient, out Waiter? waiter)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (TryAcquireLocked())
            {
                waiter = null;
                return true;
            }

            waiter = new Waiter(this, recipient);
            waiter.Node = _waiters.AddLast(waiter);
            return false;
        }
    }

    /// <summary>Returns a permit; the first waiters get theirs if the limit allows.</summary>
    public void Release()
    {
        List<Waiter>? granted;
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(_inUse > 0, "A release matches an acquire.");
            _inUse--;
            granted = GrantLocked();
        }

        Deliver(granted);
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

        Deliver(granted);
    }

    private bool TryAcquireLocked()
    {
        if (_waiters.Count == 0 && _inUse < _limit)
        {
            _inUse++;
            return true;
        }

        return false;
    }

    private WithdrawResult Withdraw(Waiter waiter)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (waiter.State == WaiterState.Waiting)
            {
                waiter.State = WaiterState.Cancelled;
                _waiters.Remove(waiter.Node!);
                waiter.Node = null;
                return WithdrawResult.Withdrawn;
            }
        }

        // Granted (or delivered) already: the state only moves on from Granted by this exchange
        // or by the recipient's claim, so exactly one of them gets the permit.
        return Interlocked.CompareExchange(ref waiter.StateField, (int)WaiterState.Taken, (int)WaiterState.Granted) == (int)WaiterState.Granted
            ? WithdrawResult.PermitTaken
            : WithdrawResult.AlreadyDelivered;
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

    private static void Deliver(List<Waiter>? granted)
    {
        if (granted is null)
        {
            return;
        }

        foreach (var waiter in granted)
        {
            waiter.Recipient.OnPermitGranted(waiter);
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the pool's lock.");
        Debug.Assert(_inUse >= 0, "Permits in use are never negative.");
        Debug.Assert(_grantsClosed || _waiters.Count == 0 || _inUse >= _limit, "Nobody waits while a permit is free (until grants close).");
        Debug.Assert(_waiters.All(w => w.State == WaiterState.Waiting), "Every queued waiter is waiting.");
    }

    /// <summary>A place in the queue, for one recipient.</summary>
    internal sealed class Waiter(PermitPool pool, IPermitRecipient recipient)
    {
        internal int StateField = (int)WaiterState.Waiting;

        public IPermitRecipient Recipient { get; } = recipient;

        public WaiterState State
        {
            get => (WaiterState)Volatile.Read(ref StateField);
            internal set => Volatile.Write(ref StateField, (int)value);
        }

        internal LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>
        /// The recipient accepts its granted permit: true exactly once, unless the waiter was
        /// withdrawn first. Called by the recipient under its own lock.
        /// </summary>
        public bool TryClaim() =>
            Interlocked.CompareExchange(ref StateField, (int)WaiterState.Delivered, (int)WaiterState.Granted) == (int)WaiterState.Granted;

        /// <summary>Leaves the queue, or takes over a permit granted but not yet delivered.</summary>
        public WithdrawResult TryWithdraw() => pool.Withdraw(this);
    }
}
