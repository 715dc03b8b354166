namespace FiberManager.Protocol;

/// <summary>
/// The <c>google.rpc.ErrorInfo</c> reasons FiberManager's errors carry, all in
/// <see cref="Domain"/>. Clients branch on the reason, not on the message text. The table in
/// <c>protos/fibermanager/v1/fibermanager.proto</c> lists the status code each goes with.
/// </summary>
/// <example>
/// <code>
/// catch (RpcException e) when (e.GetReason() == ErrorReasons.InputQueueFull) { /* back off (GetReason: FiberManager.Client) */ }
/// </code>
/// </example>
public static class ErrorReasons
{
    /// <summary>The <c>ErrorInfo.domain</c> of every FiberManager error.</summary>
    public const string Domain = "fibermanager.v1";

    /// <summary>No fiber has that id, or it left the retention window. NOT_FOUND.</summary>
    public const string FiberNotFound = "FIBER_NOT_FOUND";

    /// <summary>Start with the FAIL conflict policy on the id of a live fiber. ALREADY_EXISTS.</summary>
    public const string FiberAlreadyExists = "FIBER_ALREADY_EXISTS";

    /// <summary>Submit to a paused fiber that was not started to buffer while paused. FAILED_PRECONDITION.</summary>
    public const string FiberPaused = "FIBER_PAUSED";

    /// <summary>Submit, Pause or Resume on a fiber whose status is final. FAILED_PRECONDITION.</summary>
    public const string FiberEnded = "FIBER_ENDED";

    /// <summary>No concurrency permit free (admission REJECT, or WAIT timed out). RESOURCE_EXHAUSTED.</summary>
    public const string ConcurrencyLimitReached = "CONCURRENCY_LIMIT_REACHED";

    /// <summary>Submit with the REJECT queue-full policy on a full input queue. RESOURCE_EXHAUSTED.</summary>
    public const string InputQueueFull = "INPUT_QUEUE_FULL";

    /// <summary>
    /// Submit with an input larger than the server's input limit (<c>FiberManager:Server:MaxInputSize</c>;
    /// by default the message size limit less room for the event that carries an output). INVALID_ARGUMENT:
    /// it depends on the request alone, so a retry of the same input never succeeds.
    /// </summary>
    public const string InputTooLarge = "INPUT_TOO_LARGE";

    /// <summary>
    /// Start by an API key that already holds its <c>MaxFibers</c> live fibers (metadata
    /// <see cref="ErrorMetadataKeys.ApiKey"/>, <see cref="ErrorMetadataKeys.MaxFibers"/>,
    /// <see cref="ErrorMetadataKeys.LiveFibers"/>). RESOURCE_EXHAUSTED.
    /// </summary>
    public const string ApiKeyFiberLimitReached = "API_KEY_FIBER_LIMIT_REACHED";

    /// <summary>A fiber id that is empty, longer than 128 or uses other characters than <c>A-Z a-z 0-9 . _ : -</c>. INVALID_ARGUMENT.</summary>
    public const string InvalidFiberId = "INVALID_FIBER_ID";

    /// <summary>Any other malformed request field (metadata <see cref="ErrorMetadataKeys.Field"/> names it). INVALID_ARGUMENT.</summary>
    public const string InvalidArgument = "INVALID_ARGUMENT";

    /// <summary>Start names a workflow that is not registered. NOT_FOUND.</summary>
    public const string WorkflowNotFound = "WORKFLOW_NOT_FOUND";

    /// <summary>The server is stopping and admits nothing new. UNAVAILABLE.</summary>
    public const string ShuttingDown = "SHUTTING_DOWN";

    /// <summary>The call's deadline passed while it waited (for a permit, for queue space). DEADLINE_EXCEEDED.</summary>
    public const string DeadlineExceeded = "DEADLINE_EXCEEDED";

    /// <summary>
    /// Subscribe with a <c>from_sequence</c> beyond the fiber's last sequence: the client's position
    /// belongs to an earlier fiber with the same id. OUT_OF_RANGE.
    /// </summary>
    public const string SequenceOutOfRange = "SEQUENCE_OUT_OF_RANGE";

    /// <summary>Every reason above, for validation and documentation checks.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        FiberNotFound,
        FiberAlreadyExists,
        FiberPaused,
        FiberEnded,
        ConcurrencyLimitReached,
        InputQueueFull,
        InputTooLarge,
        ApiKeyFiberLimitReached,
        InvalidFiberId,
        InvalidArgument,
        WorkflowNotFound,
        ShuttingDown,
        DeadlineExceeded,
        SequenceOutOfRange,
    ];
}

/// <summary>The <c>google.rpc.ErrorInfo.metadata</c> keys FiberManager's errors use.</summary>
public static class ErrorMetadataKeys
{
    /// <summary>The fiber the error is about.</summary>
    public const string FiberId = "fiber_id";

    /// <summary>The workflow the error is about.</summary>
    public const string Workflow = "workflow";

    /// <summary>The request field that is invalid, by its proto name (for example <c>page_token</c>).</summary>
    public const string Field = "field";

    /// <summary>The fiber's input queue depth when the error happened.</summary>
    public const string QueueDepth = "queue_depth";

    /// <summary>The fiber's input queue capacity.</summary>
    public const string InputCapacity = "input_capacity";

    /// <summary>The manager's concurrency limit when the error happened.</summary>
    public const string MaxConcurrentFibers = "max_concurrent_fibers";

    /// <summary>The size in bytes of the input a Submit carried, on INPUT_TOO_LARGE.</summary>
    public const string InputSize = "input_size";

    /// <summary>The largest input in bytes the server accepts, on INPUT_TOO_LARGE.</summary>
    public const string MaxInputSize = "max_input_size";

    /// <summary>The fiber's last event sequence number.</summary>
    public const string LastSequence = "last_sequence";

    /// <summary>The fiber's final status, on FIBER_ENDED.</summary>
    public const string Status = "status";

    /// <summary>The name (never the secret) of the API key, on API_KEY_FIBER_LIMIT_REACHED.</summary>
    public const string ApiKey = "api_key";

    /// <summary>The key's limit of live fibers, on API_KEY_FIBER_LIMIT_REACHED.</summary>
    public const string MaxFibers = "max_fibers";

    /// <summary>The live fibers the key held when the Start was refused, on API_KEY_FIBER_LIMIT_REACHED.</summary>
    public const string LiveFibers = "live_fibers";
}
