namespace FiberManager.Core.Management;

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
