namespace FiberManager.Core.Management;

/// <summary>What a <see cref="FiberEvent{TOutput}"/> carries.</summary>
public enum FiberEventKind
{
    /// <summary>An output published by the workflow.</summary>
    Output = 1,

    /// <summary>A status change (Idle/Running flips are not published; they happen once per input).</summary>
    StatusChanged,

    /// <summary>The fiber ended; the last event of every subscription.</summary>
    Terminated,

    /// <summary>Events this subscriber missed (its buffer overflowed, or they left the replay window).</summary>
    Gap,
}
