using FiberManager.Core.Management;
using FiberManager.Protocol.V1;

namespace FiberManager.Service.Workflows;

/// <summary>
/// <c>echo</c>: publishes every input unchanged, JSON or binary. Takes no args. Pause stops it
/// taking inputs; the queue keeps them (with buffer_while_paused) until Resume.
/// </summary>
public sealed class EchoWorkflow : IWorkflow<Payload, Payload>
{
    /// <summary>The name it is registered under.</summary>
    public const string Name = "echo";

    /// <inheritdoc/>
    public async Task RunAsync(WorkflowContext<Payload, Payload> context)
    {
        var input = context.Input;
        while (await input.WaitToReadAsync(context.CancellationToken).ConfigureAwait(false))
        {
            while (input.TryReadItem(out var item))
            {
                using var activity = Telemetry.WorkflowTracing.StartProcessing(item.SubmitContext, Name);
                context.Publish(item.Value);
            }
        }
    }
}
