namespace FiberManager.Core.Management;

/// <summary>Why a manager operation failed; the service maps each code to one gRPC status and reason.</summary>
public enum FiberErrorCode
{
    /// <summary>No fiber with that id (live or retained).</summary>
    NotFound = 1,

    /// <summary>A live fiber already has that id (conflict policy Fail).</summary>
    AlreadyExists,

    /// <summary>The fiber is paused and does not buffer while paused.</summary>
    Paused,

    /// <summary>The fiber has ended; it accepts nothing more.</summary>
    Ended,

    /// <summary>No concurrency permit was free (reject), or none freed in time (wait).</summary>
    ConcurrencyLimitReached,

    /// <summary>The input queue is full (full-queue mode reject).</summary>
    InputQueueFull,

    /// <summary>The fiber id is not 1–128 characters of <c>A–Z a–z 0–9 . _ : -</c>.</summary>
    InvalidFiberId,

    /// <summary>Another argument is out of range.</summary>
    InvalidArgument,

    /// <summary>The manager is shutting down and admits nothing.</summary>
    ShuttingDown,

    /// <summary>The Start's owner already holds <see cref="StartOptions.MaxFibersPerOwner"/> live fibers.</summary>
    OwnerFiberLimitReached,
}

/// <summary>The one exception type manager operations throw for expected failures.</summary>
/// <example><code>
/// try { await manager.SubmitAsync("chat-1", "hello"); }
/// catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.InputQueueFull) { /* back off */ }
/// </code></example>
public sealed class FiberSupervisorException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FiberSupervisorException(FiberErrorCode code, string message, string? fiberId = null, IReadOnlyDictionary<string, string>? metadata = null)
        : base(message)
    {
        Code = code;
        FiberId = fiberId;
        Metadata = metadata ?? new Dictionary<string, string>();
    }

    /// <summary>What went wrong.</summary>
    public FiberErrorCode Code { get; }

    /// <summary>The fiber the operation targeted, when there was one.</summary>
    public string? FiberId { get; }

    /// <summary>Details worth showing a client (for example <c>queue_depth</c>, <c>status</c>).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    internal static FiberSupervisorException NotFound(string id) =>
        new(FiberErrorCode.NotFound, $"No fiber with id '{id}'.", id);

    internal static FiberSupervisorException Ended(string id, ManagedFiberStatus status) =>
        new(FiberErrorCode.Ended, $"Fiber '{id}' has ended ({status}).", id, new Dictionary<string, string> { ["status"] = status.ToString() });

    internal static FiberSupervisorException ShuttingDown() =>
        new(FiberErrorCode.ShuttingDown, "The fiber manager is shutting down.");

    /// <param name="message">What is wrong.</param>
    /// <param name="field">The request field at fault, in the contract's snake_case (reported as <c>field</c> metadata).</param>
    internal static FiberSupervisorException InvalidArgument(string message, string field) =>
        new(FiberErrorCode.InvalidArgument, message, null, new Dictionary<string, string> { ["field"] = field });
}

/// <summary>Validates fiber ids: 1–128 characters of <c>A–Z a–z 0–9 . _ : -</c>.</summary>
public static class FiberId
{
    /// <summary>The longest id.</summary>
    public const int MaxLength = 128;

    /// <summary>True when <paramref name="id"/> is a valid fiber id.</summary>
    /// <example><code>FiberId.IsValid("chat:42") // true; FiberId.IsValid("a b") // false</code></example>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="FiberSupervisorException"/> with <see cref="FiberErrorCode.InvalidFiberId"/> for an invalid id.</summary>
    public static void Validate(string? id)
    {
        if (!IsValid(id))
        {
            throw new FiberSupervisorException(
                FiberErrorCode.InvalidFiberId,
                $"Invalid fiber id: it must be 1-{MaxLength} characters of A-Z a-z 0-9 . _ : - (got {Describe(id)}).",
                null);
        }
    }

    private static string Describe(string? id) => id switch
    {
        null => "null",
        "" => "an empty string",
        _ when id.Length > MaxLength => $"{id.Length} characters",
        _ => "a disallowed character",
    };
}
