using System.Collections.Concurrent;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>Helpers shared by the manager tests.</summary>
internal static class ManagerTesting
{
    /// <summary>A manager on <paramref name="clock"/> with test-friendly defaults, adjusted by <paramref name="configure"/>.</summary>
    public static FiberSupervisor<int, int> Create(TimeProvider clock, Action<FiberSupervisorOptions>? configure = null)
    {
        var options = new FiberSupervisorOptions { MaxConcurrentFibers = 16 };
        configure?.Invoke(options);
        return new FiberSupervisor<int, int>(options, clock);
    }

    /// <summary>The manager is consistent and exactly <paramref name="permitsInUse"/> permits are held.</summary>
    public static void AssertSettled(this FiberSupervisor<int, int> manager, int permitsInUse)
    {
        manager.CheckInvariants();
        Assert.Equal(permitsInUse, manager.GetStatistics().PermitsInUse);
    }

    public static async Task<FiberSupervisorException> ThrowsCodeAsync(FiberErrorCode code, Func<Task> action)
    {
        var exception = await Assert.ThrowsAsync<FiberSupervisorException>(action).DefaultTimeout();
        Assert.Equal(code, exception.Code);
        return exception;
    }

    public static FiberSupervisorException ThrowsCode(FiberErrorCode code, Action action)
    {
        var exception = Assert.Throws<FiberSupervisorException>(action);
        Assert.Equal(code, exception.Code);
        return exception;
    }

    /// <summary>Reads every event until the stream ends (bounded).</summary>
    public static async Task<List<FiberEvent<int>>> ReadToEndAsync(this FiberSubscription<int> subscription)
    {
        var events = new List<FiberEvent<int>>();
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in subscription.ReadAllAsync(cts.Token))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>Reads the next event (bounded).</summary>
    public static async Task<FiberEvent<int>> NextAsync(this FiberSubscription<int> subscription)
    {
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        while (true)
        {
            if (subscription.TryRead(out var e))
            {
                return e;
            }

            if (!await subscription.WaitToReadAsync(cts.Token))
            {
                throw new InvalidOperationException("The subscription ended.");
            }
        }
    }

    /// <summary>Reads events until one matches (bounded); every event read is added to <paramref name="seen"/>.</summary>
    public static async Task<FiberEvent<int>> ReadUntilAsync(this FiberSubscription<int> subscription, Func<FiberEvent<int>, bool> match, List<FiberEvent<int>>? seen = null)
    {
        while (true)
        {
            var e = await subscription.NextAsync();
            seen?.Add(e);
            if (match(e))
            {
                return e;
            }
        }
    }

    /// <summary>Events readable right now, without waiting.</summary>
    public static List<FiberEvent<int>> Drain(this FiberSubscription<int> subscription)
    {
        var events = new List<FiberEvent<int>>();
        while (subscription.TryRead(out var e))
        {
            events.Add(e);
        }

        return events;
    }

    public static bool IsStatus(this FiberEvent<int> e, ManagedFiberStatus previous, ManagedFiberStatus current) =>
        e.Kind == FiberEventKind.StatusChanged && e.PreviousStatus == previous && e.Status == current;

    public static Task UntilStatusAsync(this FiberSupervisor<int, int> manager, string id, ManagedFiberStatus status) =>
        TestTimeouts.UntilAsync(() => manager.GetStatus(id).Status == status, $"{id} is {status}");
}

/// <summary>
/// A workflow that reports what happens to it: <see cref="Started"/> when an attempt begins,
/// every call of its on-terminate hook (with what <see cref="Hook"/> adds), and how many attempts ran.
/// By default it waits for cancellation.
/// </summary>
internal sealed class ProbeWorkflow : IWorkflow<int, int>
{
    private readonly Func<WorkflowContext<int, int>, Task> _run;
    private readonly ConcurrentQueue<FiberTermination> _terminations = new();
    private int _runs;

    public ProbeWorkflow(Func<WorkflowContext<int, int>, Task>? run = null) =>
        _run = run ?? (ctx => Task.Delay(Timeout.Infinite, ctx.CancellationToken));

    /// <summary>Completes when the first attempt begins.</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the hook is first called.</summary>
    public TaskCompletionSource<FiberTermination> HookCalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the hook does after recording the call.</summary>
    public Func<FiberTermination, CancellationToken, ValueTask>? Hook { get; init; }

    public int Runs => Volatile.Read(ref _runs);

    public FiberTermination[] Terminations => [.. _terminations];

    public async Task RunAsync(WorkflowContext<int, int> context)
    {
        Interlocked.Increment(ref _runs);
        Started.TrySetResult();
        await _run(context);
    }

    public ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken)
    {
        _terminations.Enqueue(termination);
        HookCalled.TrySetResult(termination);
        return Hook?.Invoke(termination, cancellationToken) ?? ValueTask.CompletedTask;
    }
}
