using System.Threading.Channels;
using FiberManager.Core.Management;

namespace FiberManager.Core.Tests.Management;

/// <summary>Workflows the manager tests drive.</summary>
internal static class TestWorkflows
{
    /// <summary>Publishes every input unchanged.</summary>
    public static IWorkflow<int, int> Echo() => Workflow.Create<int, int>(async ctx =>
    {
        await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
        {
            ctx.Publish(item);
        }
    });

    /// <summary>Never reads; waits for interruption.</summary>
    public static IWorkflow<int, int> Parked() => Workflow.Create<int, int>(ctx => Task.Delay(Timeout.Infinite, ctx.CancellationToken));

    /// <summary>Ignores cancellation until <paramref name="release"/> completes.</summary>
    public static IWorkflow<int, int> Stubborn(Task release) => Workflow.Create<int, int>(_ => release);
}

/// <summary>
/// A workflow that takes one input at a time and holds it until the test lets it finish:
/// <see cref="Taken"/> reports each item as it is handed out, <see cref="Finish"/> lets the
/// current item complete (it is then published), and <see cref="Parked"/> reports each time the
/// reader had to wait (its wait did not complete at once: nothing could be handed out).
/// </summary>
internal sealed class SteppedWorkflow : IWorkflow<int, int>
{
    private readonly Channel<int> _taken = Channel.CreateUnbounded<int>();
    private readonly Channel<bool> _parked = Channel.CreateUnbounded<bool>();
    private readonly SemaphoreSlim _finish = new(0);

    public ChannelReader<int> Taken => _taken.Reader;

    public ChannelReader<bool> Parked => _parked.Reader;

    public List<FiberTermination> Terminations { get; } = [];

    public void Finish() => _finish.Release();

    public async Task RunAsync(WorkflowContext<int, int> context)
    {
        while (true)
        {
            var wait = context.Input.WaitToReadAsync(context.CancellationToken);
            if (!wait.IsCompleted)
            {
                _parked.Writer.TryWrite(true);
            }

            if (!await wait)
            {
                break;
            }

            if (!context.Input.TryRead(out var item))
            {
                continue;
            }

            _taken.Writer.TryWrite(item);
            await _finish.WaitAsync(context.CancellationToken);
            context.Publish(item);
        }
    }

    public ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken)
    {
        lock (Terminations)
        {
            Terminations.Add(termination);
        }

        return ValueTask.CompletedTask;
    }
}
