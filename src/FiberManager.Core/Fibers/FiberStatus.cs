namespace FiberManager.Core.Fibers;

/// <summary>What a fiber is doing right now.</summary>
public enum FiberStatus
{
    /// <summary>Forked or executing; not known to be waiting.</summary>
    Running,

    /// <summary>
    /// Parked in one of the runtime's own waits (a delay, <see cref="FiberContext.NeverAsync"/>,
    /// <see cref="FiberContext.SuspendAsync"/>), fully armed and with its thread given back: completing the
    /// wait resumes it.
    /// </summary>
    Suspended,

    /// <summary>Ended: its <see cref="Exit"/> is known and its finalizers have run.</summary>
    Done,
}
