namespace FiberManager.Core.Management;

/// <summary>The status of a managed fiber.</summary>
public enum ManagedFiberStatus
{
    /// <summary>Admitted with <see cref="AdmissionMode.Queue"/> (or waiting with <see cref="AdmissionMode.Wait"/>) for a permit; inputs are buffered.</summary>
    Pending = 1,

    /// <summary>Running and parked on its input: nothing to do.</summary>
    Idle,

    /// <summary>Running: processing an input or doing its own work.</summary>
    Running,

    /// <summary>Paused: its input reader hands out nothing until resumed (the item in progress finished).</summary>
    Paused,

    /// <summary>Failed and waiting for its restart backoff to elapse.</summary>
    BackingOff,

    /// <summary>Ended: the workflow returned.</summary>
    Completed,

    /// <summary>Ended: the workflow threw (and the restart budget, if any, is spent).</summary>
    Failed,

    /// <summary>Ended: interrupted (by Interrupt, replace or shutdown).</summary>
    Interrupted,
}
