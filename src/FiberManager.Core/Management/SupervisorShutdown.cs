using System.Diagnostics;

namespace FiberManager.Core.Management;

/// <summary>
/// A supervisor's shutdown, run once: stop admitting (no permit is granted to a waiting Start, no
/// fiber is registered), interrupt every fiber that has not ended with grace, in parallel, so that
/// each delivers its terminated event, then close the scope and the metrics.
/// </summary>
internal sealed class SupervisorShutdown<TInput, TOutput>(FiberRegistry<TInput, TOutput> registry, PermitPool permits, FiberEnvironment environment)
{
    private readonly Lock _lock = new();
    private Task? _shutdown;

    /// <summary>Begins the shutdown (idempotent); completes when every fiber has ended or been abandoned.</summary>
    public Task RunOnceAsync()
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_shutdown is null)
            {
                // Before anything is interrupted: a permit released from now on admits nobody, so a
                // Start still waiting for one fails with ShuttingDown instead of starting its fiber.
                permits.CloseGrants();
                _shutdown = RunAsync(registry.Close());
            }

            return _shutdown;
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "The shutdown is begun under its lock.");
        Debug.Assert(_shutdown is null || registry.IsClosed, "Once begun, the registry admits nothing.");
    }

    private async Task RunAsync(ManagedFiber<TInput, TOutput>[] fibers)
    {
        await Task.Yield(); // leave the lock before interrupting anything
        environment.Log.ShuttingDown(fibers.Length);
        await Task.WhenAll(fibers.Select(f => f.InterruptAsync(environment.Settings.InterruptGracePeriod, "shutdown"))).ConfigureAwait(false);

        // Fibers that ignored cancellation were abandoned above; do not wait for them again.
        _ = environment.Scope.CloseAsync();
        environment.Metrics.Dispose();
    }
}
