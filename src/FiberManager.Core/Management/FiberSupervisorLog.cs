using Microsoft.Extensions.Logging;

namespace FiberManager.Core.Management;

/// <summary>The manager's log messages (source-generated). Event ids are never renumbered.</summary>
internal sealed partial class FiberSupervisorLog(ILogger logger)
{
    [LoggerMessage(EventId = 1, EventName = "FiberStarted", Level = LogLevel.Debug, Message = "Fiber {FiberId} started workflow {Workflow}.")]
    public partial void FiberStarted(string fiberId, string workflow);

    [LoggerMessage(EventId = 2, EventName = "FiberEnded", Level = LogLevel.Information, Message = "Fiber {FiberId} ({Workflow}) ended {Status} with {Unprocessed} unprocessed inputs.")]
    public partial void FiberEnded(string fiberId, string workflow, ManagedFiberStatus status, int unprocessed, Exception? exception);

    [LoggerMessage(EventId = 3, EventName = "WorkflowAbandoned", Level = LogLevel.Warning, Message = "Fiber {FiberId} ({Workflow}) ignored cancellation for {Grace}; abandoned.")]
    public partial void WorkflowAbandoned(string fiberId, string workflow, TimeSpan grace);

    [LoggerMessage(EventId = 4, EventName = "TerminateHookFailed", Level = LogLevel.Error, Message = "The on-terminate hook of fiber {FiberId} ({Workflow}) failed.")]
    public partial void TerminateHookFailed(string fiberId, string workflow, Exception exception);

    [LoggerMessage(EventId = 5, EventName = "WorkflowRestarting", Level = LogLevel.Warning, Message = "Fiber {FiberId} ({Workflow}) failed; restart {Attempt} after {Delay}.")]
    public partial void WorkflowRestarting(string fiberId, string workflow, int attempt, TimeSpan delay, Exception? exception);

    [LoggerMessage(EventId = 6, EventName = "FiberReplacing", Level = LogLevel.Information, Message = "Fiber {FiberId} is being replaced.")]
    public partial void FiberReplacing(string fiberId);

    [LoggerMessage(EventId = 7, EventName = "ConcurrencyLimitChanged", Level = LogLevel.Information, Message = "Concurrency limit set to {Limit}.")]
    public partial void ConcurrencyLimitChanged(int limit);

    [LoggerMessage(EventId = 8, EventName = "ShuttingDown", Level = LogLevel.Information, Message = "Fiber manager shutting down; interrupting {Count} fibers.")]
    public partial void ShuttingDown(int count);
}
