using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>
/// The fibers whose lifetime an owner (a parent fiber or a scope) supervises: an intrusive
/// doubly linked list, so adding and removing a fiber allocates nothing.
/// </summary>
/// <remarks>
/// Invariants (checked in DEBUG at the start of every locked block):
/// <list type="bullet">
/// <item><c>_count</c> equals the number of fibers linked from <c>_head</c>;</item>
/// <item>every linked fiber has <c>ListOwner == this</c>;</item>
/// <item>once closed, no fiber is added again.</item>
/// </list>
/// A fiber is in at most one list: the one of its lifetime owner. A fiber leaves its list by itself
/// when it completes (<see cref="Leave"/>); a derived list (a FiberSet's) does its own bookkeeping
/// under the same lock and wakes its waiters in <see cref="AfterLeft"/>.
/// </remarks>
[DebuggerDisplay("Count = {_count}, Closed = {_closed}")]
internal class FiberList
{
    private readonly Lock _lock = new();
    private Fiber? _head;
    private int _count;
    private bool _closed;

    public int Count => Volatile.Read(ref _count);

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

    /// <summary>Links <paramref name="fiber"/>; false when the list is closed.</summary>
    public bool TryAdd(Fiber fiber)
    {
        lock (_lock)
        {
            return TryAddLocked(fiber);
        }
    }

    /// <summary>The list's lock, for derived lists that guard their own state with it.</summary>
    private protected Lock SyncRoot => _lock;

    /// <summary>The number of linked fibers; under <see cref="SyncRoot"/>.</summary>
    private protected int CountLocked => _count;

    /// <summary>True once closed; under <see cref="SyncRoot"/>.</summary>
    private protected bool IsClosedLocked => _closed;

    /// <summary>Links <paramref name="fiber"/> under <see cref="SyncRoot"/>; false when the list is closed.</summary>
    private protected bool TryAddLocked(Fiber fiber)
    {
        AssertInvariants();
        if (_closed)
        {
            return false;
        }

        Debug.Assert(fiber.ListOwner is null, "A fiber has one lifetime owner.");
        fiber.ListOwner = this;
        fiber.ListNext = _head;
        if (_head is not null)
        {
            _head.ListPrev = fiber;
        }

        _head = fiber;
        _count++;
        return true;
    }

    /// <summary>Unlinks <paramref name="fiber"/> if it is still linked here.</summary>
    public void Remove(Fiber fiber)
    {
        lock (_lock)
        {
            UnlinkLocked(fiber);
        }
    }

    /// <summary>
    /// Called once by a completing fiber linked here, its exit recorded: unlinks it. Returns what
    /// <see cref="AfterLeft"/> is to be given once the fiber is done, or null for nothing.
    /// </summary>
    internal virtual object? Leave(Fiber fiber)
    {
        Remove(fiber);
        return null;
    }

    /// <summary>Wakes, outside the lock, what <see cref="Leave"/> returned (a derived list's waiters).</summary>
    internal virtual void AfterLeft(object left)
    {
    }

    /// <summary>Unlinks <paramref name="fiber"/> under <see cref="SyncRoot"/>; false when it is not linked here.</summary>
    private protected bool UnlinkLocked(Fiber fiber)
    {
        AssertInvariants();
        if (fiber.ListOwner != this)
        {
            return false;
        }

        if (fiber.ListPrev is not null)
        {
            fiber.ListPrev.ListNext = fiber.ListNext;
        }
        else
        {
            _head = fiber.ListNext;
        }

        if (fiber.ListNext is not null)
        {
            fiber.ListNext.ListPrev = fiber.ListPrev;
        }

        fiber.ListPrev = fiber.ListNext = null;
        fiber.ListOwner = null;
        _count--;
        return true;
    }

    /// <summary>Closes the list (no more adds) and returns the fibers linked now.</summary>
    public Fiber[] Close()
    {
        lock (_lock)
        {
            return CloseLocked();
        }
    }

    /// <summary>Closes the list under <see cref="SyncRoot"/> and returns the fibers linked now.</summary>
    private protected Fiber[] CloseLocked()
    {
        AssertInvariants();
        _closed = true;
        return SnapshotLocked();
    }

    /// <summary>The fibers linked now.</summary>
    public Fiber[] Snapshot()
    {
        lock (_lock)
        {
            return SnapshotLocked();
        }
    }

    private protected Fiber[] SnapshotLocked()
    {
        if (_count == 0)
        {
            return [];
        }

        var result = new Fiber[_count];
        var i = 0;
        for (var f = _head; f is not null; f = f.ListNext)
        {
            result[i++] = f;
        }

        return result;
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_count >= 0, "count is never negative");
        Debug.Assert((_head is null) == (_count == 0), "head is null exactly when the list is empty");
        Debug.Assert(_head is null || _head.ListPrev is null, "head has no predecessor");
    }
}
