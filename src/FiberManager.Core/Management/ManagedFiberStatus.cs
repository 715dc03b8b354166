namespace FiberManager.Core.Management;

/// <summary>The status of a managed fiber.</summary>
public enum ManagedFiberStatus
{
    /// <summary>Admitted with <see cref="AdmissionMode.Queue"/> (or waiting with <see cref="AdmissionMode.Wait"/>) for a permit; inputs are buffered.</summary>
    Pending = 1,

    /// <summary>Running and parked on its input: nothing to do.</summary>
    Idle,

    /// <summary>Running: processing an input or doing its own work.</summary>
    Running,

    /// <summary>Paused: its input reader hands out nothing until resumed (the item in progress finished).</summary>
    Paused,

    /// <summary>Failed and waiting for its restart backoff to elapse.</summary>
    BackingOff,

    /// <summary>Ended: the workflow returned.</summary>
    Completed,

    /// <summary>Ended: the workflow threw (and the restart budget, if any, is spent).</summary>
    Failed,

    /// <summary>Ended: interrupted (by Interrupt, replace or shutdown).</summary>
    Interrupted,
}

/// <summary>Helpers for <see cref="ManagedFiberStatus"/>.</summary>
public static class ManagedFiberStatusExtensions
{
    /// <summary>True for Completed, Failed and Interrupted.</summary>
    /// <example><code>if (info.Status.IsTerminal()) Console.WriteLine(info.Termination);</code></example>
    public static bool IsTerminal(this ManagedFiberStatus status) =>
        status is ManagedFiberStatus.Completed or ManagedFiberStatus.Failed or ManagedFiberStatus.Interrupted;
}

/// <summary>What Start does when the id is already in use by a live (or pending) fiber.</summary>
public enum IdConflictPolicy
{
    /// <summary>Fail with <see cref="FiberErrorCode.AlreadyExists"/> (the default).</summary>
    Fail = 0,

    /// <summary>Return the existing fiber; nothing new is started.</summary>
    UseExisting,

    /// <summary>
    /// Store the new fiber under the id (Pending: it buffers inputs, status and subscribers see it),
    /// then interrupt the existing one (with grace); once that one has ended, admit the new one.
    /// </summary>
    Replace,
}

/// <summary>What Start does when no concurrency permit is free.</summary>
public enum AdmissionMode
{
    /// <summary>Wait for a permit (FIFO), up to the permit timeout or the caller's cancellation (the default).</summary>
    Wait = 0,

    /// <summary>Register the fiber as Pending and return at once; it starts when a permit frees (FIFO).</summary>
    Queue,

    /// <summary>Fail at once with <see cref="FiberErrorCode.ConcurrencyLimitReached"/>.</summary>
    Reject,
}

/// <summary>What Submit does when the input queue is full.</summary>
public enum FullQueueMode
{
    /// <summary>Wait for room (backpressure), up to the caller's cancellation (the default).</summary>
    Wait = 0,

    /// <summary>Fail at once with <see cref="FiberErrorCode.InputQueueFull"/>.</summary>
    Reject,
}

/// <summary>
/// Restart on failure: up to <see cref="MaxRestarts"/> times, after an exponential backoff from
/// <see cref="InitialBackoff"/> capped at <see cref="MaxBackoff"/> (the schedule comes from
/// Polly.Core). The id, the input queue and the output hub survive a restart.
/// </summary>
/// <example><code>var policy = RestartPolicy.OnFailure(maxRestarts: 3, initialBackoff: TimeSpan.FromSeconds(1));</code></example>
public sealed record RestartPolicy
{
    /// <summary>Never restart (the default).</summary>
    public static RestartPolicy Never { get; } = new();

    /// <summary>How many restarts at most; 0 means never restart.</summary>
    public int MaxRestarts { get; init; }

    /// <summary>The first backoff (default 1 s).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff (default 1 min).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Adds jitter to the backoff (default off, so schedules are predictable).</summary>
    public bool UseJitter { get; init; }

    /// <summary>A policy that restarts on failure.</summary>
    public static RestartPolicy OnFailure(int maxRestarts, TimeSpan? initialBackoff = null, TimeSpan? maxBackoff = null) => new()
    {
        MaxRestarts = maxRestarts,
        InitialBackoff = initialBackoff ?? TimeSpan.FromSeconds(1),
        MaxBackoff = maxBackoff ?? TimeSpan.FromMinutes(1),
    };
}

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
