using System.Collections.Concurrent;
using FiberManager.Core.Management;
using FiberManager.Protocol.V1;
using FiberManager.Service.Workflows;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// Signals between the fault workflows and the tests, per fiber id: named one-shot signals
/// (a workflow sets "started", a test sets "go"), counters, and the last termination each
/// workflow's hook saw. One instance per host (a DI singleton).
/// </summary>
public sealed class FaultSignals
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _signals = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, FiberTermination> Terminations { get; } = new(StringComparer.Ordinal);

    public void Set(string fiberId, string name) => Get(fiberId, name).TrySetResult();

    /// <summary>Completes when <paramref name="name"/> is set for the fiber (callers bound the wait).</summary>
    public Task When(string fiberId, string name) => Get(fiberId, name).Task;

    public bool IsSet(string fiberId, string name) => Get(fiberId, name).Task.IsCompleted;

    public long Increment(string fiberId, string name) => _counters.AddOrUpdate(fiberId + "/" + name, 1, static (_, n) => n + 1);

    public long Count(string fiberId, string name) => _counters.TryGetValue(fiberId + "/" + name, out var n) ? n : 0;

    private TaskCompletionSource Get(string fiberId, string name) =>
        _signals.GetOrAdd(fiberId + "/" + name, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>Workflows that misbehave on purpose, registered through the normal AddWorkflow API.</summary>
public static class FaultWorkflows
{
    public const string ThrowAtStart = "fault-throw-at-start";
    public const string ThrowAfter = "fault-throw-after";
    public const string Hang = "fault-hang";
    public const string Flood = "fault-flood";
    public const string Allocate = "fault-allocate";
    public const string FailingHook = "fault-failing-hook";
    public const string AlwaysThrow = "fault-always-throw";
    public const string Gate = "fault-gate";

    public static void Register(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FaultSignals>();
        builder.Services.AddWorkflow<ThrowAtStartWorkflow>(ThrowAtStart, "Fault: throws before reading any input. Args {mode: async|sync|null-task|own-cancel, wait}.");
        builder.Services.AddWorkflow<ThrowAfterWorkflow>(ThrowAfter, "Fault: echoes N inputs, waits for go, throws. Args {after}.");
        builder.Services.AddWorkflow<HangWorkflow>(Hang, "Fault: ignores cancellation until released; then throws.");
        builder.Services.AddWorkflow<FloodWorkflow>(Flood, "Fault: publishes in a tight loop until cancelled. Args {size, threshold}.");
        builder.Services.AddWorkflow<AllocateWorkflow>(Allocate, "Fault: allocates a large array per input. Args {megabytes}.");
        builder.Services.AddWorkflow<FailingHookWorkflow>(FailingHook, "Fault: echoes; its on-terminate hook misbehaves. Args {hook: throw|throw-sync|hang}.");
        builder.Services.AddWorkflow<AlwaysThrowWorkflow>(AlwaysThrow, "Fault: throws on every attempt without reading input.");
        builder.Services.AddWorkflow<GateWorkflow>(Gate, "Fault: reads nothing until drain is set, then echoes.");
    }

    internal static double Number(Struct args, string key, double fallback) =>
        args.Fields.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.NumberValue ? value.NumberValue : fallback;

    internal static string Text(Struct args, string key, string fallback) =>
        args.Fields.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.StringValue ? value.StringValue : fallback;

    internal static bool Flag(Struct args, string key) =>
        args.Fields.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.BoolValue && value.BoolValue;
}

/// <summary>Counts hook calls and remembers the termination the hook saw.</summary>
public abstract class FaultWorkflowBase(FaultSignals signals) : IWorkflow<Payload, Payload>
{
    private string _fiberId = "";

    protected FaultSignals Signals { get; } = signals;

    public Task RunAsync(WorkflowContext<Payload, Payload> context)
    {
        _fiberId = context.FiberId;
        Signals.Increment(context.FiberId, "attempts");
        Signals.Set(context.FiberId, "started");
        return RunCoreAsync(context);
    }

    protected abstract Task RunCoreAsync(WorkflowContext<Payload, Payload> context);

    public virtual ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken)
    {
        RecordHook(termination);
        return ValueTask.CompletedTask;
    }

    protected void RecordHook(FiberTermination termination)
    {
        Signals.Increment(_fiberId, "hook");
        Signals.Terminations[_fiberId] = termination;
        Signals.Set(_fiberId, "hook");
    }
}

public sealed class ThrowAtStartWorkflow(FaultSignals signals, Struct args) : FaultWorkflowBase(signals)
{
    private readonly string _mode = FaultWorkflows.Text(args, "mode", "async");
    private readonly bool _wait = FaultWorkflows.Flag(args, "wait");

    protected override Task RunCoreAsync(WorkflowContext<Payload, Payload> context) => _mode switch
    {
        // Not even a faulted task: the call itself throws.
        "sync" => throw new InvalidOperationException("thrown synchronously at start"),

        // No task at all.
        "null-task" => null!,

        // Its own cancellation (say, an HTTP timeout), not the fiber's: a failure, not an interrupt.
        "own-cancel" => Task.FromException(new OperationCanceledException("its own timeout")),
        _ => ThrowAsync(context),
    };

    private async Task ThrowAsync(WorkflowContext<Payload, Payload> context)
    {
        if (_wait)
        {
            await Signals.When(context.FiberId, "go").WaitAsync(context.CancellationToken);
        }
        else
        {
            await Task.Yield();
        }

        throw new InvalidOperationException("thrown at start");
    }
}

public sealed class ThrowAfterWorkflow(FaultSignals signals, Struct args) : FaultWorkflowBase(signals)
{
    private readonly int _after = (int)FaultWorkflows.Number(args, "after", 3);

    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        for (var i = 0; i < _after; i++)
        {
            context.Publish(await context.Input.ReadAsync(context.CancellationToken));
        }

        Signals.Set(context.FiberId, "reached");
        await Signals.When(context.FiberId, "go").WaitAsync(context.CancellationToken);
        throw new InvalidOperationException($"failed after {_after} inputs");
    }
}

public sealed class HangWorkflow(FaultSignals signals) : FaultWorkflowBase(signals)
{
    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        // Ignores its cancellation token: only the test's "release" ends the wait.
        await Signals.When(context.FiberId, "release");
        Signals.Set(context.FiberId, "released");

        // Long after being abandoned: try to publish, then fail. Neither may disturb the ended fiber.
        try
        {
            context.Publish(new Payload { Json = Value.ForString("late") });
        }
        catch (InvalidOperationException)
        {
            Signals.Increment(context.FiberId, "late-publish-refused");
        }

        throw new InvalidOperationException("failed long after being abandoned");
    }
}

public sealed class FloodWorkflow(FaultSignals signals, Struct args) : FaultWorkflowBase(signals)
{
    private readonly int _size = (int)FaultWorkflows.Number(args, "size", 64);
    private readonly long _threshold = (long)FaultWorkflows.Number(args, "threshold", 100_000);

    protected override Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        // A tight synchronous loop: never awaits, never yields its thread, stops only on cancellation.
        // A new payload each time, so that events kept beyond the bounded buffers would show as memory growth.
        var bytes = new byte[_size];
        long published = 0;
        while (!context.CancellationToken.IsCancellationRequested)
        {
            context.Publish(new Payload { Binary = ByteString.CopyFrom(bytes) });
            if (++published == _threshold)
            {
                Signals.Set(context.FiberId, "threshold");
            }
        }

        Signals.Increment(context.FiberId, "published");
        return Task.FromCanceled(context.CancellationToken);
    }
}

public sealed class AllocateWorkflow(FaultSignals signals, Struct args) : FaultWorkflowBase(signals)
{
    private readonly int _bytes = (int)(FaultWorkflows.Number(args, "megabytes", 8) * 1024 * 1024);

    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken))
        {
            var block = new byte[_bytes];
            for (var i = 0; i < block.Length; i += 4096)
            {
                block[i] = (byte)i; // touch every page
            }

            context.Publish(new Payload { Json = Value.ForNumber(block.Length + input.CalculateSize()) });
        }
    }
}

public sealed class FailingHookWorkflow(FaultSignals signals, Struct args) : FaultWorkflowBase(signals)
{
    private static readonly TaskCompletionSource s_never = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _hook = FaultWorkflows.Text(args, "hook", "throw");

    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken))
        {
            context.Publish(input);
        }
    }

    public override ValueTask OnTerminateAsync(FiberTermination termination, CancellationToken cancellationToken)
    {
        RecordHook(termination);
        return _hook switch
        {
            "throw-sync" => throw new InvalidOperationException("hook failed synchronously"),
            "hang" => new ValueTask(s_never.Task), // ignores its token: only the hook timeout ends it
            _ => ThrowLaterAsync(),
        };

        static async ValueTask ThrowLaterAsync()
        {
            await Task.Yield();
            throw new InvalidOperationException("hook failed");
        }
    }
}

public sealed class AlwaysThrowWorkflow(FaultSignals signals) : FaultWorkflowBase(signals)
{
    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        await Task.Yield();
        throw new InvalidOperationException($"attempt {context.Attempt} failed");
    }
}

public sealed class GateWorkflow(FaultSignals signals) : FaultWorkflowBase(signals)
{
    protected override async Task RunCoreAsync(WorkflowContext<Payload, Payload> context)
    {
        await Signals.When(context.FiberId, "drain").WaitAsync(context.CancellationToken);
        await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken))
        {
            context.Publish(input);
        }
    }
}
