namespace FiberManager.Core.Management;

/// <summary>Why a manager operation failed; the service maps each code to one gRPC status and reason.</summary>
public enum FiberErrorCode
{
    /// <summary>No fiber with that id (live or retained).</summary>
    NotFound = 1,

    /// <summary>A live fiber already has that id (conflict policy Fail).</summary>
    AlreadyExists,

    /// <summary>The fiber is paused and does not buffer while paused.</summary>
    Paused,

    /// <summary>The fiber has ended; it accepts nothing more.</summary>
    Ended,

    /// <summary>No concurrency permit was free (reject), or none freed in time (wait).</summary>
    ConcurrencyLimitReached,

    /// <summary>The input queue is full (full-queue mode reject).</summary>
    InputQueueFull,

    /// <summary>The fiber id is not 1–128 characters of <c>A–Z a–z 0–9 . _ : -</c>.</summary>
    InvalidFiberId,

    /// <summary>Another argument is out of range.</summary>
    InvalidArgument,

    /// <summary>The manager is shutting down and admits nothing.</summary>
    ShuttingDown,

    /// <summary>The Start's owner already holds <see cref="StartOptions.MaxFibersPerOwner"/> live fibers.</summary>
    OwnerFiberLimitReached,
}
