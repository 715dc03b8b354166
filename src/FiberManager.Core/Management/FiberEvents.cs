namespace FiberManager.Core.Management;

/// <summary>What a <see cref="FiberEvent{TOutput}"/> carries.</summary>
public enum FiberEventKind
{
    /// <summary>An output published by the workflow.</summary>
    Output = 1,

    /// <summary>A status change (Idle/Running flips are not published; they happen once per input).</summary>
    StatusChanged,

    /// <summary>The fiber ended; the last event of every subscription.</summary>
    Terminated,

    /// <summary>Events this subscriber missed (its buffer overflowed, or they left the replay window).</summary>
    Gap,
}

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

/// <summary>A snapshot of a managed fiber, as GetStatus and List report it.</summary>
public sealed record FiberInfo
{
    /// <summary>The id.</summary>
    public required string FiberId { get; init; }

    /// <summary>The workflow name.</summary>
    public required string Workflow { get; init; }

    /// <summary>The labels.</summary>
    public required IReadOnlyDictionary<string, string> Labels { get; init; }

    /// <summary>The status.</summary>
    public required ManagedFiberStatus Status { get; init; }

    /// <summary>When Start registered it.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it got its permit and started running.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>Inputs waiting in the queue.</summary>
    public int QueueDepth { get; init; }

    /// <summary>The queue's capacity.</summary>
    public int InputCapacity { get; init; }

    /// <summary>Inputs accepted by Submit.</summary>
    public long InputsAccepted { get; init; }

    /// <summary>Inputs handed to the workflow.</summary>
    public long InputsProcessed { get; init; }

    /// <summary>Outputs published.</summary>
    public long OutputsPublished { get; init; }

    /// <summary>Current subscribers.</summary>
    public int Subscribers { get; init; }

    /// <summary>Restarts so far.</summary>
    public int Restarts { get; init; }

    /// <summary>The last failure's message (also across restarts).</summary>
    public string? LastError { get; init; }

    /// <summary>How it ended, once ended.</summary>
    public FiberTermination? Termination { get; init; }

    /// <summary>The sequence number of the last event published.</summary>
    public ulong LastSequence { get; init; }

    /// <summary>True while paused (also while backing off or pending).</summary>
    public bool Paused { get; init; }

    /// <summary>The idempotency key of the Start that created it.</summary>
    public string? RequestId { get; init; }

    /// <summary>The owner the Start that created it named (<see cref="StartOptions.Owner"/>).</summary>
    public string? Owner { get; init; }
}

/// <summary>The result of Start.</summary>
/// <param name="Fiber">The fiber (new, or existing with <see cref="IdConflictPolicy.UseExisting"/> or a repeated request id).</param>
/// <param name="Created">False when an existing fiber was returned.</param>
public sealed record StartResult(FiberInfo Fiber, bool Created);

/// <summary>The result of Submit.</summary>
/// <param name="Sequence">The input's per-fiber sequence number.</param>
/// <param name="QueueDepth">Inputs waiting in the queue right after this one was accepted.</param>
/// <param name="Duplicate">True when the submit id was seen before: the input was not enqueued again.</param>
public readonly record struct SubmitResult(ulong Sequence, int QueueDepth, bool Duplicate);

/// <summary>A List query: filters (all must match) and paging.</summary>
public sealed record FiberQuery
{
    /// <summary>Only these statuses (empty: any).</summary>
    public IReadOnlyCollection<ManagedFiberStatus>? Statuses { get; init; }

    /// <summary>Only this workflow.</summary>
    public string? Workflow { get; init; }

    /// <summary>Only fibers carrying every one of these labels.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Page size (0: 100; capped by the manager's maximum).</summary>
    public int PageSize { get; init; }

    /// <summary>
    /// The previous page's <see cref="FiberPage.NextPageToken"/>, with the same filters (the page
    /// size may change); a token reused with other filters is refused.
    /// </summary>
    public string? PageToken { get; init; }
}

/// <summary>One page of List, ordered by fiber id.</summary>
/// <param name="Fibers">The fibers on this page.</param>
/// <param name="NextPageToken">The token for the next page; empty on the last page.</param>
/// <param name="TotalSize">How many fibers match the filters in all.</param>
public sealed record FiberPage(IReadOnlyList<FiberInfo> Fibers, string NextPageToken, int TotalSize);

/// <summary>Counters of the manager as a whole, for health and invariant checks.</summary>
public readonly record struct FiberSupervisorStatistics(
    int PermitLimit,
    int PermitsInUse,
    int PermitWaiters,
    int LiveFibers,
    int PendingFibers,
    int RetainedFibers,
    long AbandonedFibers,
    bool ShuttingDown);
