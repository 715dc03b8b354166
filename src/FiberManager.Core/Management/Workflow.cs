using Microsoft.Extensions.Logging;

namespace FiberManager.Core.Management;

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
