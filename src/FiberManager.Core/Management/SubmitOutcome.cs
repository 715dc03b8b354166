namespace FiberManager.Core.Management;

/// <summary>See <see cref="InputWrite"/>.</summary>
internal enum SubmitOutcome : byte
{
    /// <summary>It entered the queue with the next sequence number.</summary>
    Accepted,

    /// <summary>Its submit id was accepted before: the first sequence number is reported, nothing is queued.</summary>
    Duplicate,

    /// <summary>Refused: the input is paused and the fiber does not buffer while paused.</summary>
    Paused,

    /// <summary>Refused: the queue is full (full-queue mode Reject).</summary>
    Full,

    /// <summary>Refused: the fiber is being interrupted or has ended.</summary>
    Closed,
}
