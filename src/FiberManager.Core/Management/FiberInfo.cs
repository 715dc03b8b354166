namespace FiberManager.Core.Management;

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
