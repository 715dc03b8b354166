using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FiberManager.Core.Primitives;

/// <summary>
/// A growable FIFO ring: its array is allocated on the first add and grows by doubling up to a limit
/// the caller passes on every add, so an empty ring costs no array at all and a ring that has reached
/// its working size never allocates again. Removed slots are cleared, so the ring never keeps a removed
/// value alive.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>
/// Written here rather than taken from a library: the BCL's <see cref="Queue{T}"/> has no bounded
/// growth, no removal from the back, no indexed access by reference and no way to overwrite the oldest
/// element when full, which the hub's replay window (evicting) and its subscriber buffers (dropping the
/// newest into a gap) both need; <c>System.Threading.Channels</c> keeps its own ring internal.
/// </para>
/// <para>
/// A mutable struct meant to live in a (non-readonly) field of its owner and to be used only under the
/// owner's lock; never copy it. <see cref="VolatileCount"/> is the one member meant to be read without
/// that lock.
/// </para>
/// <para>
/// Invariants: 0 ≤ count ≤ array length; the array, once allocated, is never longer than the largest
/// limit passed; <c>_head</c> is a valid slot whenever the array exists (these are DEBUG-checked after
/// every change); every slot outside [head, head + count) holds <see langword="default"/> (an O(capacity)
/// property, so not checked per operation: the ring's unit tests check it).
/// </para>
/// </remarks>
[DebuggerDisplay("Count = {Count}, Capacity = {Capacity}")]
internal struct RingBuffer<T>
{
    /// <summary>The size of the array allocated by the first add (or the limit, if smaller).</summary>
    internal const int InitialCapacity = 4;

    private T[]? _items;
    private int _head;
    private int _count;

    /// <summary>The number of elements in the ring.</summary>
    public readonly int Count => _count;

    /// <summary><see cref="Count"/> read with acquire semantics, for an emptiness check without the owner's lock.</summary>
    public readonly int VolatileCount => Volatile.Read(in _count);

    /// <summary>The length of the backing array (0 before the first add and after <see cref="Release"/>).</summary>
    public readonly int Capacity => _items is null ? 0 : _items.Length;

    /// <summary>The oldest element. The ring must not be empty.</summary>
    public readonly ref readonly T First
    {
        get
        {
            Debug.Assert(_count > 0, "First on an empty ring.");
            return ref _items![_head];
        }
    }

    /// <summary>The newest element. The ring must not be empty.</summary>
    public readonly ref readonly T Last
    {
        get
        {
            Debug.Assert(_count > 0, "Last on an empty ring.");
            return ref _items![Slot(_count - 1)];
        }
    }

    /// <summary>The element <paramref name="index"/> places after the oldest one.</summary>
    /// <param name="index">0 for the oldest element, <see cref="Count"/> - 1 for the newest.</param>
    public readonly ref readonly T this[int index]
    {
        get
        {
            Debug.Assert((uint)index < (uint)_count, "Ring index out of range.");
            return ref _items![Slot(index)];
        }
    }

    /// <summary>Appends an element; the caller guarantees <see cref="Count"/> &lt; <paramref name="limit"/>.</summary>
    /// <param name="item">The element to append.</param>
    /// <param name="limit">The largest array this ring may grow to (≥ 1).</param>
    public void AddLast(in T item, int limit)
    {
        Debug.Assert(limit >= 1 && _count < limit, "AddLast beyond the ring's limit.");
        if (_items is null || _count == _items.Length)
        {
            Grow(limit);
        }

        _items![Slot(_count)] = item;
        _count++;
        AssertInvariants();
    }

    /// <summary>Appends an element, overwriting the oldest one when the ring already holds <paramref name="limit"/> elements.</summary>
    /// <param name="item">The element to append.</param>
    /// <param name="limit">The number of elements the ring keeps (and the largest array it grows to, ≥ 1).</param>
    public void AddLastEvicting(in T item, int limit)
    {
        if (_count < limit)
        {
            AddLast(item, limit);
            return;
        }

        Debug.Assert(_items!.Length == limit, "A full ring's array has exactly the limit's length.");
        _items[_head] = item;
        _head = _head + 1 == _items.Length ? 0 : _head + 1;
        AssertInvariants();
    }

    /// <summary>Removes and returns the oldest element. The ring must not be empty.</summary>
    /// <returns>The removed element.</returns>
    public T RemoveFirst()
    {
        Debug.Assert(_count > 0, "RemoveFirst on an empty ring.");
        T[] items = _items!;
        T item = items[_head];
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            items[_head] = default!;
        }

        _head = _head + 1 == items.Length ? 0 : _head + 1;
        _count--;
        AssertInvariants();
        return item;
    }

    /// <summary>Removes the newest element. The ring must not be empty.</summary>
    public void RemoveLast()
    {
        Debug.Assert(_count > 0, "RemoveLast on an empty ring.");
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            _items![Slot(_count - 1)] = default!;
        }

        _count--;
        AssertInvariants();
    }

    /// <summary>Removes every element and lets go of the backing array (the next add allocates a small one again).</summary>
    public void Release()
    {
        _items = null;
        _head = 0;
        _count = 0;
    }

    private readonly int Slot(int offset)
    {
        int slot = _head + offset;
        int length = _items!.Length;
        return slot >= length ? slot - length : slot;
    }

    private void Grow(int limit)
    {
        int capacity = _items is null
            ? Math.Min(InitialCapacity, limit)
            : (int)Math.Min((long)_items.Length * 2, limit);
        Debug.Assert(capacity > _count, "Grow must make room.");

        var items = new T[capacity];
        if (_count > 0)
        {
            T[] old = _items!;
            int firstPart = Math.Min(_count, old.Length - _head);
            Array.Copy(old, _head, items, 0, firstPart);
            Array.Copy(old, 0, items, firstPart, _count - firstPart);
        }

        _items = items;
        _head = 0;
    }

    [Conditional("DEBUG")]
    private readonly void AssertInvariants()
    {
        Debug.Assert(_count >= 0 && _count <= Capacity, "0 <= count <= capacity.");
        Debug.Assert(_items is null || (uint)_head < (uint)_items.Length, "The head is a valid slot.");
        Debug.Assert(_items is not null || (_head == 0 && _count == 0), "No array: nothing stored.");
    }
}
