namespace FiberManager.Core.Management;

/// <summary>Options of one Start call. Every member has a sensible default.</summary>
/// <example><code>
/// var options = new StartOptions
/// {
///     RequestId = "req-42",                  // a retried Start returns the same fiber
///     Admission = AdmissionMode.Queue,
///     InputCapacity = 128,
///     Labels = new Dictionary&lt;string, string&gt; { ["tenant"] = "acme" },
/// };
/// </code></example>
public sealed record StartOptions
{
    /// <summary>The default options.</summary>
    public static StartOptions Default { get; } = new();

    /// <summary>An idempotency key: a Start with the same id and request id returns the fiber the first one started.</summary>
    public string? RequestId { get; init; }

    /// <summary>What to do when the id is taken.</summary>
    public IdConflictPolicy Conflict { get; init; }

    /// <summary>What to do when no permit is free.</summary>
    public AdmissionMode Admission { get; init; }

    /// <summary>How long <see cref="AdmissionMode.Wait"/> waits at most (null: the manager's default).</summary>
    public TimeSpan? PermitTimeout { get; init; }

    /// <summary>The input queue's capacity (null: the manager's default).</summary>
    public int? InputCapacity { get; init; }

    /// <summary>Labels, for filtering in List.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Start paused: the workflow runs but its reader hands out nothing until Resume.</summary>
    public bool StartPaused { get; init; }

    /// <summary>Accept Submit while paused (the inputs wait in the queue) instead of failing with <see cref="FiberErrorCode.Paused"/>.</summary>
    public bool BufferWhilePaused { get; init; }

    /// <summary>The restart policy (default: never).</summary>
    public RestartPolicy Restart { get; init; } = RestartPolicy.Never;

    /// <summary>Workflow arguments, handed to the workflow as <see cref="WorkflowContext{TInput, TOutput}.Args"/>.</summary>
    public object? Args { get; init; }

    /// <summary>
    /// Who starts the fiber (for example the name of the caller's API key). The manager counts
    /// each owner's live fibers, from registration until the fiber ends; null: not counted.
    /// </summary>
    public string? Owner { get; init; }

    /// <summary>
    /// The most live fibers <see cref="Owner"/> may hold (0, the default: no limit). A Start that
    /// would create one more fails with <see cref="FiberErrorCode.OwnerFiberLimitReached"/>;
    /// returning an existing fiber (use existing, a retried request id) creates none and always
    /// succeeds.
    /// </summary>
    public int MaxFibersPerOwner { get; init; }
}
