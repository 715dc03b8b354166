using BenchmarkDotNet.Attributes;
using FiberManager.Core.Management;

namespace FiberManager.Benchmarks;

/// <summary>Manager submit → output with one fiber and one subscriber (W3.pingpong's hop), and Start.</summary>
public class ManagerBenchmarks
{
    private FiberSupervisor<long, long> _manager = null!;
    private FiberSubscription<long> _subscription = null!;
    private long _next;

    [GlobalSetup]
    public void Setup()
    {
        _manager = new FiberSupervisor<long, long>(new FiberSupervisorOptions { MaxConcurrentFibers = 100_000, DefaultInputCapacity = 64, ReplayCapacity = 64, SubscriberBufferCapacity = 64 });
        _manager.StartAsync("fiber-0", "echo", Echo.Instance).GetAwaiter().GetResult();
        _subscription = _manager.Subscribe("fiber-0");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _subscription.Dispose();
        _manager.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Submit one input and wait until the subscriber has read its output.</summary>
    [Benchmark]
    public async Task<long> SubmitToOutput()
    {
        var value = _next++;
        await _manager.SubmitAsync("fiber-0", value).ConfigureAwait(false);
        while (true)
        {
            if (_subscription.TryRead(out var e) && e.Kind == FiberEventKind.Output)
            {
                return e.Output;
            }

            await _subscription.WaitToReadAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Submit alone (the queue is drained by the echo loop; the output goes to the subscriber's buffer).</summary>
    [Benchmark]
    public async Task SubmitOnly()
    {
        await _manager.SubmitAsync("fiber-0", _next++).ConfigureAwait(false);
        while (_subscription.TryRead(out _))
        {
        }
    }

    /// <summary>GetStatus of a live fiber (a snapshot).</summary>
    [Benchmark]
    public ManagedFiberStatus GetStatus() => _manager.GetStatus("fiber-0").Status;

    private sealed class Echo : IWorkflow<long, long>
    {
        public static readonly Echo Instance = new();

        public async Task RunAsync(WorkflowContext<long, long> context)
        {
            var input = context.Input;
            while (await input.WaitToReadAsync(context.CancellationToken).ConfigureAwait(false))
            {
                while (input.TryRead(out var item))
                {
                    context.Publish(item);
                }
            }
        }
    }
}

/// <summary>Start a managed fiber and interrupt it (W2 creation, G3 churn).</summary>
public class ManagerLifecycleBenchmarks
{
    private const int Batch = 1_000;
    private readonly string[] _ids = [.. Enumerable.Range(0, Batch).Select(i => $"fiber-{i}")];
    private FiberSupervisor<long, long> _manager = null!;

    [IterationSetup]
    public void Setup() =>
        _manager = new FiberSupervisor<long, long>(new FiberSupervisorOptions { MaxConcurrentFibers = 100_000, RetentionMaxCount = 100 });

    [IterationCleanup]
    public void Cleanup() => _manager.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Start a batch of echo fibers (per fiber).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public async Task StartBatch()
    {
        foreach (var id in _ids)
        {
            await _manager.StartAsync(id, "echo", Workflow.Create<long, long>(static ctx => Task.Delay(Timeout.Infinite, ctx.CancellationToken))).ConfigureAwait(false);
        }
    }
}
