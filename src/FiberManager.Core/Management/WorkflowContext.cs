using Microsoft.Extensions.Logging;

namespace FiberManager.Core.Management;

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
