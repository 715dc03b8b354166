using System.Diagnostics;

namespace FiberManager.Core.Hub;

/// <summary>
/// What a <see cref="HubSubscription{T}"/> reads: either one published item (<see cref="IsGap"/> is
/// <see langword="false"/>) or a gap, a contiguous range of sequences this subscriber will never see.
/// </summary>
/// <typeparam name="T">The type of the published values.</typeparam>
/// <remarks>
/// For a gap, <see cref="Sequence"/> equals <see cref="GapTo"/>, <see cref="Value"/> is
/// <see langword="default"/> and <see cref="Time"/> is the time the gap was detected (the publish time of
/// the first item dropped for this subscriber, or the subscribe time for items evicted from the replay
/// window). For an item, <see cref="GapFrom"/> and <see cref="GapTo"/> are 0.
/// <example>
/// <code>
/// if (subscription.TryRead(out HubEntry&lt;string&gt; entry))
/// {
///     Console.WriteLine(entry.IsGap
///         ? $"missed {entry.GapFrom}..{entry.GapTo}"
///         : $"#{entry.Sequence} {entry.Time:O} {entry.Value}{(entry.IsTerminal ? " (last)" : "")}");
/// }
/// </code>
/// </example>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
internal readonly record struct HubEntry<T>
{
    private HubEntry(ulong sequence, DateTimeOffset time, T value, ulong gapFrom, bool isTerminal)
    {
        Sequence = sequence;
        Time = time;
        Value = value;
        GapFrom = gapFrom;
        IsTerminal = isTerminal;
    }

    /// <summary>The item's sequence number; for a gap, the last sequence of the gap.</summary>
    public ulong Sequence { get; }

    /// <summary>When the item was published; for a gap, when the gap was detected.</summary>
    public DateTimeOffset Time { get; }

    /// <summary>The published value; <see langword="default"/> for a gap.</summary>
    public T Value { get; }

    /// <summary>Whether this entry reports missed items rather than carrying one.</summary>
    public bool IsGap => GapFrom != 0;

    /// <summary>The first missed sequence of a gap; 0 for an item.</summary>
    public ulong GapFrom { get; }

    /// <summary>The last missed sequence of a gap; 0 for an item.</summary>
    public ulong GapTo => IsGap ? Sequence : 0;

    /// <summary>Whether this is the hub's final item; nothing follows it.</summary>
    public bool IsTerminal { get; }

    /// <summary>Builds the entry for a published item.</summary>
    /// <param name="item">The stored item.</param>
    /// <param name="isTerminal">Whether it is the hub's final item.</param>
    /// <returns>The entry.</returns>
    internal static HubEntry<T> ForItem(in HubItem<T> item, bool isTerminal) =>
        new(item.Sequence, new DateTimeOffset(item.UtcTicks, TimeSpan.Zero), item.Value, 0, isTerminal);

    /// <summary>Builds a gap entry for the range [<paramref name="from"/>, <paramref name="to"/>].</summary>
    /// <param name="from">The first missed sequence (≥ 1).</param>
    /// <param name="to">The last missed sequence (≥ <paramref name="from"/>).</param>
    /// <param name="detectedUtcTicks">When the gap was detected, in UTC ticks.</param>
    /// <returns>The entry.</returns>
    internal static HubEntry<T> ForGap(ulong from, ulong to, long detectedUtcTicks)
    {
        Debug.Assert(from >= 1 && from <= to, "A gap is a non-empty range of real sequences.");
        return new(to, new DateTimeOffset(detectedUtcTicks, TimeSpan.Zero), default!, from, false);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        IsGap
            ? $"gap {GapFrom}..{GapTo} @ {Time:O}"
            : $"#{Sequence} @ {Time:O}: {Value}{(IsTerminal ? " (terminal)" : string.Empty)}";
}
