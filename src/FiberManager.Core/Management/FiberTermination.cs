namespace FiberManager.Core.Management;

/// <summary>How a managed fiber ended: what its terminated event and its final status report.</summary>
/// <param name="Status">Completed, Failed or Interrupted.</param>
/// <param name="Error">The failure, when Failed.</param>
/// <param name="InputsUnprocessed">Inputs accepted but never handed to the workflow.</param>
/// <param name="Abandoned">True when the workflow ignored cancellation past the grace period and was abandoned.</param>
/// <param name="Reason">Why it was interrupted ("interrupt", "replace", "shutdown"), when Interrupted.</param>
public sealed record FiberTermination(
    ManagedFiberStatus Status,
    Exception? Error,
    int InputsUnprocessed,
    bool Abandoned,
    string? Reason)
{
    /// <summary>The failure's message, when Failed.</summary>
    public string? ErrorMessage => Error?.Message;

    /// <summary>
    /// True when the Start that created the fiber gave up before the fiber was admitted (its
    /// permit timeout, its cancellation, no permit for a replacement): that Start failed, so a
    /// retry with its request id is not answered with this fiber.
    /// </summary>
    internal bool StartFailed { get; init; }
}
