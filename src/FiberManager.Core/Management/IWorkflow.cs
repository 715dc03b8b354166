using Microsoft.Extensions.Logging;

namespace FiberManager.Core.Management;

/// <summary>
/// A long-lived processing loop run by the manager under a fiber id. It reads inputs from
/// <see cref="WorkflowContext{TInput, TOutput}.Input"/> (pause-aware), publishes outputs, and
/// stops when <see cref="WorkflowContext{TInput, TOutput}.CancellationToken"/> is cancelled.
/// </summary>
/// <typeparam name="TInput">What Submit delivers.</typeparam>
/// <typeparam name="TOutput">What the workflow publishes to subscribers.</typeparam>
/// <example><code>
/// sealed class Upper : IWorkflow&lt;string, string&gt;
/// {
///     public async Task RunAsync(WorkflowContext&lt;string, string&gt; context)
///     {
///         await foreach (var text in context.Input.ReadAllAsync(context.CancellationToken))
///             context.Publish(text.ToUpperInvariant());
///     }
/// }
/// </code></example>
public interface IWorkflow<TInput, TOutput>
{
    /// <summary>Runs the loop. Returning ends the fiber as Completed; throwing ends it as Failed (or restarts it, per its restart policy).</summary>
    Task RunAsync(WorkflowContext<TInput, TOutput> context);

    /// <summary>
    /// Called once when the fiber has ended, however it ended, before the terminated event is
    /// published. Bounded by the manager's hook timeout; a failure is logged and never breaks cleanup.
    /// </summary>
    ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
