using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FiberManager.Core.Hub;

/// <summary>One published item as stored inside a hub: its sequence, its UTC time in ticks, its value.</summary>
/// <typeparam name="T">The type of the published values.</typeparam>
/// <remarks>
/// Kept to three words (24 bytes for a reference <typeparamref name="T"/>) because replay windows and
/// subscriber buffers hold many of them; <see cref="HubEntry{T}"/> is built from it only when read.
/// </remarks>
[DebuggerDisplay("#{Sequence}: {Value}")]
internal readonly struct HubItem<T>
{
    /// <summary>Creates an item.</summary>
    /// <param name="sequence">The per-hub sequence number (≥ 1).</param>
    /// <param name="utcTicks">The publish time, in UTC ticks.</param>
    /// <param name="value">The published value.</param>
    public HubItem(ulong sequence, long utcTicks, T value)
    {
        Sequence = sequence;
        UtcTicks = utcTicks;
        Value = value;
    }

    /// <summary>The per-hub sequence number (≥ 1).</summary>
    public ulong Sequence { get; }

    /// <summary>The publish time, in UTC ticks.</summary>
    public long UtcTicks { get; }

    /// <summary>The published value.</summary>
    public T Value { get; }
}

/// <summary>
/// A FIFO ring of <see cref="HubItem{T}"/> whose array is allocated lazily and grows by doubling up to a
/// limit the caller passes on every add, so an empty ring costs no array at all and a ring that has
/// reached its working size never allocates again.
/// </summary>
/// <typeparam name="T">The type of the published values.</typeparam>
/// <remarks>
/// A mutable struct meant to live in a (non-readonly) field of its owner and to be used only under the
/// owner's lock; never copy it. Removed slots are cleared so the ring does not keep values alive.
/// </remarks>
internal struct HubItemRing<T>
{
    /// <summary>The size of the array allocated by the first add (or the limit, if smaller).</summary>
    internal const int InitialCapacity = 4;

    private HubItem<T>[]? _items;
    private int _head;
    private int _count;

    /// <summary>The number of items in the ring.</summary>
    public readonly int Count => _count;

    /// <summary><see cref="Count"/> read with acquire semantics, for a lock-free emptiness check.</summary>
    public readonly int VolatileCount => Volatile.Read(in _count);

    /// <summary>The length of the backing array (0 before the first add).</summary>
    public readonly int Capacity => _items is null ? 0 : _items.Length;

    /// <summary>The oldest item. The ring must not be empty.</summary>
    public readonly ref readonly HubItem<T> First
    {
        get
        {
            Debug.Assert(_count > 0, "First on an empty ring.");
            return ref _items![_head];
        }
    }

    /// <summary>The newest item. The ring must not be empty.</summary>
    public readonly ref readonly HubItem<T> Last
    {
        get
        {
            Debug.Assert(_count > 0, "Last on an empty ring.");
            return ref _items![Slot(_count - 1)];
        }
    }

    /// <summary>The item <paramref name="index"/> places after the oldest one.</summary>
    /// <param name="index">0 for the oldest item, <see cref="Count"/> - 1 for the newest.</param>
    public readonly ref readonly HubItem<T> this[int index]
    {
        get
        {
            Debug.Assert((uint)index < (uint)_count, "Ring index out of range.");
            return ref _items![Slot(index)];
        }
    }

    /// <summary>Appends an item; the caller guarantees <see cref="Count"/> &lt; <paramref name="limit"/>.</summary>
    /// <param name="item">The item to append.</param>
    /// <param name="limit">The largest array this ring may grow to.</param>
    public void AddLast(in HubItem<T> item, int limit)
    {
        Debug.Assert(_count < limit, "AddLast beyond the ring's limit.");
        if (_items is null || _count == _items.Length)
        {
            Grow(limit);
        }

        _items![Slot(_count)] = item;
        _count++;
    }

    /// <summary>Appends an item, overwriting the oldest one when the ring already holds <paramref name="limit"/> items.</summary>
    /// <param name="item">The item to append.</param>
    /// <param name="limit">The number of items the ring keeps (and the largest array it grows to).</param>
    public void AddLastEvicting(in HubItem<T> item, int limit)
    {
        if (_count < limit)
        {
            AddLast(item, limit);
            return;
        }

        Debug.Assert(_items!.Length == limit, "A full ring's array has exactly the limit's length.");
        _items[_head] = item;
        _head = _head + 1 == _items.Length ? 0 : _head + 1;
    }

    /// <summary>Removes and returns the oldest item. The ring must not be empty.</summary>
    /// <returns>The removed item.</returns>
    public HubItem<T> RemoveFirst()
    {
        Debug.Assert(_count > 0, "RemoveFirst on an empty ring.");
        HubItem<T>[] items = _items!;
        HubItem<T> item = items[_head];
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            items[_head] = default;
        }

        _head = _head + 1 == items.Length ? 0 : _head + 1;
        _count--;
        return item;
    }

    /// <summary>Removes the newest item. The ring must not be empty.</summary>
    public void RemoveLast()
    {
        Debug.Assert(_count > 0, "RemoveLast on an empty ring.");
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            _items![Slot(_count - 1)] = default;
        }

        _count--;
    }

    /// <summary>Removes every item and lets go of the backing array.</summary>
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

        var items = new HubItem<T>[capacity];
        if (_count > 0)
        {
            HubItem<T>[] old = _items!;
            int firstPart = Math.Min(_count, old.Length - _head);
            Array.Copy(old, _head, items, 0, firstPart);
            Array.Copy(old, 0, items, firstPart, _count - firstPart);
        }

        _items = items;
        _head = 0;
    }
}
