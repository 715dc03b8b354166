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
/// current item complete (it is then published).
/// </summary>
internal sealed class SteppedWorkflow : IWorkflow<int, int>
{
    private readonly System.Threading.Channels.Channel<int> _taken = System.Threading.Channels.Channel.CreateUnbounded<int>();
    private readonly SemaphoreSlim _finish = new(0);

    public System.Threading.Channels.ChannelReader<int> Taken => _taken.Reader;

    public List<FiberTermination> Terminations { get; } = [];

    public void Finish() => _finish.Release();

    public async Task RunAsync(WorkflowContext<int, int> context)
    {
        while (await context.Input.WaitToReadAsync(context.CancellationToken))
        {
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
