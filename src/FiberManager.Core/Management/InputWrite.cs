namespace FiberManager.Core.Management;

/// <summary>What <see cref="WorkflowInput{T}.SubmitAsync"/> did with an input: a value, turned into a result or an error by the fiber.</summary>
/// <param name="Outcome">Accepted, duplicate, or why it was refused.</param>
/// <param name="Sequence">The input's sequence number (accepted or duplicate).</param>
/// <param name="Depth">The queue depth right after it.</param>
internal readonly record struct InputWrite(SubmitOutcome Outcome, ulong Sequence, int Depth)
{
    public static InputWrite Closed => new(SubmitOutcome.Closed, 0, 0);

    public static InputWrite Paused => new(SubmitOutcome.Paused, 0, 0);

    public static InputWrite Full(int depth) => new(SubmitOutcome.Full, 0, depth);

    public static InputWrite Accepted(ulong sequence, int depth) => new(SubmitOutcome.Accepted, sequence, depth);

    public static InputWrite Duplicate(ulong sequence, int depth) => new(SubmitOutcome.Duplicate, sequence, depth);
}
