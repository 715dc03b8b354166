using FiberManager.Core.Management;
using FiberManager.Protocol.V1;
using FiberManager.Service.Workflows;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;

namespace FiberManager.Service.Tests;

/// <summary>Workflows the functional tests register next to the built-in ones (through the host's configure hook).</summary>
public static class TestWorkflows
{
    /// <summary>Never reads its input (its queue fills up); stops when cancelled.</summary>
    public const string NeverReads = "test-never-reads";

    /// <summary>Ignores cancellation: Interrupt has to abandon it after the grace period.</summary>
    public const string Stubborn = "test-stubborn";

    /// <summary>Echoes inputs, but throws (the fiber fails) on the JSON string "fail".</summary>
    public const string FailOn = "test-fail-on";

    /// <summary>Publishes every binary input twice over (an output twice the size of its input).</summary>
    public const string Doubles = "test-doubles";

    /// <summary>Registers the test workflows.</summary>
    public static void Register(WebApplicationBuilder builder)
    {
        builder.Services.AddWorkflow<NeverReadsWorkflow>(NeverReads, "Test: never reads its input.");
        builder.Services.AddWorkflow<StubbornWorkflow>(Stubborn, "Test: ignores cancellation.");
        builder.Services.AddWorkflow<FailOnWorkflow>(FailOn, "Test: echoes, fails on \"fail\".");
        builder.Services.AddWorkflow<DoublesWorkflow>(Doubles, "Test: publishes binary inputs twice over.");
    }

    public static Struct Args(params (string Key, Value Value)[] fields)
    {
        var args = new Struct();
        foreach (var (key, value) in fields)
        {
            args.Fields[key] = value;
        }

        return args;
    }
}

public sealed class NeverReadsWorkflow : IWorkflow<Payload, Payload>
{
    public Task RunAsync(WorkflowContext<Payload, Payload> context) => Task.Delay(Timeout.Infinite, context.CancellationToken);
}

public sealed class StubbornWorkflow : IWorkflow<Payload, Payload>
{
    // Never completed: the workflow outlives its cancellation until the manager abandons it.
    private static readonly TaskCompletionSource s_never = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task RunAsync(WorkflowContext<Payload, Payload> context) => s_never.Task;
}

public sealed class FailOnWorkflow : IWorkflow<Payload, Payload>
{
    public async Task RunAsync(WorkflowContext<Payload, Payload> context)
    {
        await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            if (input.KindCase == Payload.KindOneofCase.Json && input.Json.StringValue == "fail")
            {
                throw new InvalidOperationException("asked to fail");
            }

            context.Publish(input);
        }
    }
}

public sealed class DoublesWorkflow : IWorkflow<Payload, Payload>
{
    public async Task RunAsync(WorkflowContext<Payload, Payload> context)
    {
        await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var bytes = input.Binary.ToByteArray();
            context.Publish(new Payload { Binary = Google.Protobuf.ByteString.CopyFrom([.. bytes, .. bytes]) });
        }
    }
}
