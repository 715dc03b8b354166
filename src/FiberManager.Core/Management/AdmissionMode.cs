namespace FiberManager.Core.Management;

/// <summary>What Start does when no concurrency permit is free.</summary>
public enum AdmissionMode
{
    /// <summary>Wait for a permit (FIFO), up to the permit timeout or the caller's cancellation (the default).</summary>
    Wait = 0,

    /// <summary>Register the fiber as Pending and return at once; it starts when a permit frees (FIFO).</summary>
    Queue,

    /// <summary>Fail at once with <see cref="FiberErrorCode.ConcurrencyLimitReached"/>.</summary>
    Reject,
}
