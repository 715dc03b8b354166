namespace FiberManager.Core.Management;

/// <summary>The manager's metrics: where the instruments are fed from.</summary>
public sealed partial class FiberSupervisor<TInput, TOutput>
{
    internal FiberSupervisorMetrics Metrics { get; }

    /// <summary>Fibers by status (live and retained), for the <c>fibermanager.fibers</c> gauge.</summary>
    internal IReadOnlyDictionary<ManagedFiberStatus, int> CountByStatus()
    {
        var counts = new Dictionary<ManagedFiberStatus, int>();
        lock (_lock)
        {
            foreach (var fiber in _live.Values)
            {
                var status = fiber.Status;
                counts[status] = counts.GetValueOrDefault(status) + 1;
            }

            foreach (var (id, fiber) in _retained)
            {
                if (!_live.ContainsKey(id))
                {
                    var status = fiber.Status;
                    counts[status] = counts.GetValueOrDefault(status) + 1;
                }
            }
        }

        return counts;
    }

    private ValueTask<SubmitResult> SubmitObservedAsync(ManagedFiber<TInput, TOutput> fiber, TInput input, string? submitId, FullQueueMode fullQueue, CancellationToken cancellationToken)
    {
        ValueTask<SubmitResult> submit;
        try
        {
            submit = fiber.SubmitAsync(input, submitId, fullQueue, cancellationToken);
        }
        catch (FiberSupervisorException)
        {
            Metrics.SubmitRejected(fiber.WorkflowName);
            throw;
        }

        if (submit.IsCompletedSuccessfully)
        {
            Metrics.Submit(fiber.WorkflowName, submit.Result);
            return submit;
        }

        return AwaitSubmitAsync(fiber.WorkflowName, submit);
    }

    private async ValueTask<SubmitResult> AwaitSubmitAsync(string workflow, ValueTask<SubmitResult> submit)
    {
        try
        {
            var result = await submit.ConfigureAwait(false);
            Metrics.Submit(workflow, result);
            return result;
        }
        catch (FiberSupervisorException)
        {
            Metrics.SubmitRejected(workflow);
            throw;
        }
    }

    private FiberSubscription<TOutput> SubscribeObserved(ManagedFiber<TInput, TOutput> fiber, ulong afterSequence) =>
        new(fiber.Hub.Subscribe(afterSequence), Metrics, fiber.WorkflowName);
}
