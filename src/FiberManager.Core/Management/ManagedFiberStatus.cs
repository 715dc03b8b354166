namespace FiberManager.Core.Management;

/// <summary>The status of a managed fiber.</summary>
/// <remarks>
/// GetStatus, List and the results of Start, Pause, Resume and Interrupt report every status by
/// one rule. Status-change events carry only the life-cycle statuses (Pending, Running, Paused,
/// BackingOff; the final one comes in the terminated event) and call <see cref="Idle"/>
/// <see cref="Running"/>: the two flip with every input. A subscriber that reads Idle as Running
/// always agrees with GetStatus.
/// </remarks>
public enum ManagedFiberStatus
{
    /// <summary>Admitted with <see cref="AdmissionMode.Queue"/> (or waiting with <see cref="AdmissionMode.Wait"/>) for a permit; inputs are buffered.</summary>
    Pending = 1,

    /// <summary>Running, not paused, and its workflow waits for input with an empty queue. Never a status-change event's status (events say <see cref="Running"/>).</summary>
    Idle,

    /// <summary>Running, not paused, not idle: processing an input, doing its own work, or not yet waiting for its first input. In events, also an idle fiber.</summary>
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
