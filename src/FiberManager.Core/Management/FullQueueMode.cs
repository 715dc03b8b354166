namespace FiberManager.Core.Management;

/// <summary>What Submit does when the input queue is full.</summary>
public enum FullQueueMode
{
    /// <summary>Wait for room (backpressure), up to the caller's cancellation (the default).</summary>
    Wait = 0,

    /// <summary>Fail at once with <see cref="FiberErrorCode.InputQueueFull"/>.</summary>
    Reject,
}
