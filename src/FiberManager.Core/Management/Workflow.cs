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

/// <summary>Creates workflows from delegates.</summary>
public static class Workflow
{
    /// <summary>A workflow whose loop is <paramref name="run"/> and whose hook is <paramref name="onTerminate"/>.</summary>
    /// <example><code>
    /// var echo = Workflow.Create&lt;string, string&gt;(async ctx =>
    /// {
    ///     await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken)) ctx.Publish(item);
    /// });
    /// </code></example>
    public static IWorkflow<TInput, TOutput> Create<TInput, TOutput>(
        Func<WorkflowContext<TInput, TOutput>, Task> run,
        Func<FiberTermination, CancellationToken, ValueTask>? onTerminate = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new DelegateWorkflow<TInput, TOutput>(run, onTerminate);
    }

    private sealed class DelegateWorkflow<TInput, TOutput>(
        Func<WorkflowContext<TInput, TOutput>, Task> run,
        Func<FiberTermination, CancellationToken, ValueTask>? onTerminate) : IWorkflow<TInput, TOutput>
    {
        public Task RunAsync(WorkflowContext<TInput, TOutput> context) => run(context);

        public ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken) =>
            onTerminate?.Invoke(termination, cancellationToken) ?? ValueTask.CompletedTask;
    }
}

/// <summary>Everything a running workflow gets from the manager.</summary>
/// <typeparam name="TInput">The input type.</typeparam>
/// <typeparam name="TOutput">The output type.</typeparam>
/// <example><code>
/// while (await context.Input.WaitToReadAsync(context.CancellationToken))
///     while (context.Input.TryRead(out var item))
///         context.Publish(Transform(item));
/// </code></example>
public sealed class WorkflowContext<TInput, TOutput>
{
    private readonly ManagedFiber<TInput, TOutput> _fiber;

    internal WorkflowContext(ManagedFiber<TInput, TOutput> fiber, CancellationToken cancellationToken, int attempt)
    {
        _fiber = fiber;
        CancellationToken = cancellationToken;
        Attempt = attempt;
    }

    /// <summary>The fiber id.</summary>
    public string FiberId => _fiber.Id;

    /// <summary>The workflow name the fiber was started with.</summary>
    public string WorkflowName => _fiber.WorkflowName;

    /// <summary>The arguments of the Start call (<see cref="StartOptions.Args"/>).</summary>
    public object? Args => _fiber.Args;

    /// <summary>The fiber's labels.</summary>
    public IReadOnlyDictionary<string, string> Labels => _fiber.Labels;

    /// <summary>0 for the first run, then 1, 2, … after each restart.</summary>
    public int Attempt { get; }

    /// <summary>The pause-aware input reader.</summary>
    public WorkflowInput<TInput> Input => _fiber.Input;

    /// <summary>Cancelled when the fiber is interrupted (Interrupt, replace, shutdown).</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>A logger for the workflow.</summary>
    public ILogger Logger => _fiber.Logger;

    /// <summary>The manager's clock.</summary>
    public TimeProvider TimeProvider => _fiber.TimeProvider;

    /// <summary>Publishes an output to every subscriber; never blocks (a slow subscriber sees a gap instead).</summary>
    /// <returns>The event's sequence number.</returns>
    public ulong Publish(TOutput output) => _fiber.PublishOutput(output);
}

/// <summary>How a managed fiber ended: what its terminated event and its final status report.</summary>
/// <param name="Status">Completed, Failed or Interrupted.</param>
/// <param name="Error">The failure, when Failed.</param>
/// <param name="InputsUnprocessed">Inputs accepted but never handed to the workflow.</param>
/// <param name="Abandoned">True when the workflow ignored cancellation past the grace period and was abandoned.</param>
/// <param name="Reason">Why it was interrupted ("interrupt", "replace", "shutdown"), when Interrupted.</param>
public sealed record FiberTermination(
    ManagedFiberStatus Status,
    Exception? Error,
    int InputsUnprocessed,
    bool Abandoned,
    string? Reason)
{
    /// <summary>The failure's message, when Failed.</summary>
    public string? ErrorMessage => Error?.Message;
}
