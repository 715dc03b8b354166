namespace FiberManager.Core.Fibers;

/// <summary>
/// Thrown by <see cref="Fiber{T}.JoinAsync"/> when the joined fiber was interrupted.
/// It is an <see cref="OperationCanceledException"/>, so code that treats cancellation as
/// cancellation keeps working.
/// </summary>
public sealed class FiberInterruptedException : OperationCanceledException
{
    /// <summary>Creates the exception for the fiber <paramref name="fiberId"/>.</summary>
    public FiberInterruptedException(long fiberId, Interruptor interruptor)
        : base($"Fiber #{fiberId} was interrupted by {interruptor}.")
    {
        FiberId = fiberId;
        Interruptor = interruptor;
    }

    /// <summary>The id of the interrupted fiber.</summary>
    public long FiberId { get; }

    /// <summary>Who interrupted it.</summary>
    public Interruptor Interruptor { get; }
}
