using System.Diagnostics;

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
