namespace FiberManager.Core.Management;

/// <summary>The result of Submit.</summary>
/// <param name="Sequence">The input's per-fiber sequence number.</param>
/// <param name="QueueDepth">Inputs waiting in the queue right after this one was accepted.</param>
/// <param name="Duplicate">True when the submit id was seen before: the input was not enqueued again.</param>
public readonly record struct SubmitResult(ulong Sequence, int QueueDepth, bool Duplicate);
