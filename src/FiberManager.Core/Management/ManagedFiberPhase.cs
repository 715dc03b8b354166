namespace FiberManager.Core.Management;

/// <summary>
/// Where a <see cref="ManagedFiber{TInput, TOutput}"/> is in its life; the transitions are in the
/// remarks of that type. What it holds follows from the phase: a permit in
/// <see cref="Running"/> and <see cref="BackingOff"/> (and in <see cref="Terminating"/> until the
/// cleanup releases it), a place in the permit queue in <see cref="Pending"/>, nothing before.
/// </summary>
internal enum ManagedFiberPhase : byte
{
    /// <summary>Constructed by a Start that has not decided its admission yet; never seen outside the registry's lock.</summary>
    Created,

    /// <summary>A replacement, stored under its id, waiting for the fiber(s) it replaces to end. Holds nothing; counts as pending.</summary>
    AwaitingPredecessor,

    /// <summary>Queued for a permit. Counts as pending.</summary>
    Pending,

    /// <summary>Holds a permit; its workflow runs (an attempt is in progress).</summary>
    Running,

    /// <summary>Holds a permit; an attempt failed and the next one waits for its backoff.</summary>
    BackingOff,

    /// <summary>Its status is final; the cleanup (hook, terminated event, permit, retention) runs.</summary>
    Terminating,

    /// <summary>Cleanup done: in retention.</summary>
    Ended,
}
