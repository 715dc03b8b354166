namespace FiberManager.Core.Management;

/// <summary>One event of a fiber's output stream, with a per-fiber sequence number and time.</summary>
/// <typeparam name="TOutput">The output type.</typeparam>
/// <example><code>
/// await foreach (var e in manager.Subscribe("chat-1").ReadAllAsync(ct))
/// {
///     if (e.Kind == FiberEventKind.Output) Console.WriteLine(e.Output);
///     if (e.Kind == FiberEventKind.Gap) Console.WriteLine($"missed {e.GapFrom}..{e.GapTo}");
/// }
/// </code></example>
public readonly record struct FiberEvent<TOutput>
{
    /// <summary>The per-fiber sequence number (for a gap: the last missed sequence).</summary>
    public ulong Sequence { get; init; }

    /// <summary>When the event was published (for a gap: when it was detected).</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>What the event carries.</summary>
    public FiberEventKind Kind { get; init; }

    /// <summary>The output, for <see cref="FiberEventKind.Output"/>.</summary>
    public TOutput? Output { get; init; }

    /// <summary>The status before, for <see cref="FiberEventKind.StatusChanged"/>.</summary>
    public ManagedFiberStatus PreviousStatus { get; init; }

    /// <summary>The status after, for <see cref="FiberEventKind.StatusChanged"/> and <see cref="FiberEventKind.Terminated"/>.</summary>
    public ManagedFiberStatus Status { get; init; }

    /// <summary>How the fiber ended, for <see cref="FiberEventKind.Terminated"/>.</summary>
    public FiberTermination? Termination { get; init; }

    /// <summary>The first missed sequence, for <see cref="FiberEventKind.Gap"/>.</summary>
    public ulong GapFrom { get; init; }

    /// <summary>The last missed sequence, for <see cref="FiberEventKind.Gap"/>.</summary>
    public ulong GapTo { get; init; }
}
