namespace FiberManager.Core.Management;

/// <summary>What a <see cref="FiberEvent{TOutput}"/> carries.</summary>
public enum FiberEventKind
{
    /// <summary>An output published by the workflow.</summary>
    Output = 1,

    /// <summary>A life-cycle status change: Pending, Running, Paused or BackingOff, never Idle (see <see cref="ManagedFiberStatus"/>).</summary>
    StatusChanged,

    /// <summary>The fiber ended; the last event of every subscription.</summary>
    Terminated,

    /// <summary>Events this subscriber missed (its buffer overflowed, or they left the replay window).</summary>
    Gap,
}
