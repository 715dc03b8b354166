namespace FiberManager.Core.Management;

/// <summary>What the hub carries for one fiber event (the hub adds the sequence and the time).</summary>
internal readonly record struct EventPayload<TOutput>(
    FiberEventKind Kind,
    TOutput? Output,
    ManagedFiberStatus Previous,
    ManagedFiberStatus Current,
    FiberTermination? Termination);
