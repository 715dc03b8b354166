using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace FiberManager.Core.Fibers;

/// <summary>How a fiber ended.</summary>
public enum ExitKind
{
    /// <summary>The fiber's body returned a value.</summary>
    Success,

    /// <summary>The fiber's body threw an exception that was not an answer to an interruption.</summary>
    Failure,

    /// <summary>The fiber was interrupted (by a fiber, a scope, a collection or an external caller) and stopped.</summary>
    Interrupted,
}

/// <summary>What a fiber is doing right now.</summary>
public enum FiberStatus
{
    /// <summary>Forked or executing; not known to be waiting.</summary>
    Running,

    /// <summary>
    /// Parked in one of the runtime's own waits (a delay, <see cref="FiberContext.NeverAsync"/>,
    /// <see cref="FiberContext.SuspendAsync"/>), fully armed and with its thread given back: completing the
    /// wait resumes it.
    /// </summary>
    Suspended,

    /// <summary>Ended: its <see cref="Exit"/> is known and its finalizers have run.</summary>
    Done,
}

/// <summary>The kind of thing that interrupted a fiber.</summary>
public enum InterruptorKind
{
    /// <summary>Not interrupted.</summary>
    None,

    /// <summary>Code outside the runtime (a direct <see cref="Fiber.Interrupt()"/> call without an interruptor).</summary>
    External,

    /// <summary>A fiber: the parent ending, or a combinator interrupting the losers.</summary>
    Fiber,

    /// <summary>A scope that closed.</summary>
    Scope,

    /// <summary>A <see cref="Collections.FiberSet"/>, <see cref="Collections.FiberMap{TKey}"/> or <see cref="Collections.FiberHandle"/> (clear, remove, replace, close).</summary>
    Collection,
}

/// <summary>
/// Who interrupted a fiber: a kind and the runtime id of the fiber, scope or collection.
/// </summary>
/// <example><code>
/// var exit = await fiber.InterruptAsync();
/// Console.WriteLine(exit.Interruptor); // "external"
/// </code></example>
public readonly record struct Interruptor(InterruptorKind Kind, long Id)
{
    /// <summary>No interruption.</summary>
    public static Interruptor None => default;

    /// <summary>An interruption from code outside the runtime.</summary>
    public static Interruptor External => new(InterruptorKind.External, 0);

    // Packed into one long so that "first interruptor wins" is a single compare-exchange.
    internal long Pack() => ((long)Kind << 56) | (Id & 0x00FF_FFFF_FFFF_FFFF);

    internal static Interruptor Unpack(long bits) =>
        bits == 0 ? None : new Interruptor((InterruptorKind)(bits >>> 56), bits & 0x00FF_FFFF_FFFF_FFFF);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        InterruptorKind.None => "none",
        InterruptorKind.External => "external",
        _ => $"{Kind.ToString().ToLowerInvariant()} #{Id}",
    };
}

/// <summary>
/// The outcome of a fiber, without its value: success, failure with an exception, or interruption
/// with the interruptor.
/// </summary>
/// <example><code>
/// Exit exit = await fiber.AwaitExitAsync();
/// if (exit.Kind == ExitKind.Failure) logger.LogError(exit.Exception, "failed");
/// </code></example>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct Exit
{
    internal Exit(ExitKind kind, Exception? exception, Interruptor interruptor)
    {
        Kind = kind;
        Exception = exception;
        Interruptor = interruptor;
    }

    /// <summary>How the fiber ended.</summary>
    public ExitKind Kind { get; }

    /// <summary>The failure, when <see cref="Kind"/> is <see cref="ExitKind.Failure"/>; otherwise null.</summary>
    public Exception? Exception { get; }

    /// <summary>Who interrupted the fiber, when <see cref="Kind"/> is <see cref="ExitKind.Interrupted"/>.</summary>
    public Interruptor Interruptor { get; }

    /// <summary>True when the fiber succeeded.</summary>
    public bool IsSuccess => Kind == ExitKind.Success;

    /// <summary>True when the fiber failed.</summary>
    public bool IsFailure => Kind == ExitKind.Failure;

    /// <summary>True when the fiber was interrupted.</summary>
    public bool IsInterrupted => Kind == ExitKind.Interrupted;

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        ExitKind.Success => "Success",
        ExitKind.Failure => $"Failure({Exception?.GetType().Name}: {Exception?.Message})",
        _ => $"Interrupted(by {Interruptor})",
    };
}

/// <summary>The outcome of a <see cref="Fiber{T}"/>, with its value on success.</summary>
/// <typeparam name="T">The fiber's result type.</typeparam>
/// <example><code>
/// Exit&lt;int&gt; exit = await fiber.AwaitAsync();
/// if (exit.IsSuccess) Console.WriteLine(exit.Value);
/// </code></example>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct Exit<T>
{
    private readonly Exit _exit;

    internal Exit(Exit exit, T? value)
    {
        _exit = exit;
        Value = value;
    }

    /// <summary>How the fiber ended.</summary>
    public ExitKind Kind => _exit.Kind;

    /// <summary>The value, when the fiber succeeded; otherwise the default.</summary>
    public T? Value { get; }

    /// <summary>The failure, when the fiber failed.</summary>
    public Exception? Exception => _exit.Exception;

    /// <summary>Who interrupted the fiber, when it was interrupted.</summary>
    public Interruptor Interruptor => _exit.Interruptor;

    /// <summary>True when the fiber succeeded.</summary>
    public bool IsSuccess => _exit.IsSuccess;

    /// <summary>True when the fiber failed.</summary>
    public bool IsFailure => _exit.IsFailure;

    /// <summary>True when the fiber was interrupted.</summary>
    public bool IsInterrupted => _exit.IsInterrupted;

    /// <summary>The exit without its value.</summary>
    public static implicit operator Exit(Exit<T> exit) => exit._exit;

    /// <summary>The exit without its value.</summary>
    public Exit ToExit() => _exit;

    // Returns the value, rethrows the failure, or throws FiberInterruptedException.
    internal T GetValueOrThrow(long fiberId)
    {
        switch (Kind)
        {
            case ExitKind.Success:
                return Value!;
            case ExitKind.Failure:
                ExceptionDispatchInfo.Capture(Exception!).Throw();
                return default!; // unreachable
            default:
                throw new FiberInterruptedException(fiberId, Interruptor);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Kind == ExitKind.Success ? $"Success({Value})" : _exit.ToString();
}

/// <summary>
/// Thrown by <see cref="Fiber{T}.JoinAsync"/> when the joined fiber was interrupted.
/// It is an <see cref="OperationCanceledException"/>, so code that treats cancellation as
/// cancellation keeps working.
/// </summary>
public sealed class FiberInterruptedException : OperationCanceledException
{
    /// <summary>Creates the exception for the fiber <paramref name="fiberId"/>.</summary>
    public FiberInterruptedException(long fiberId, Interruptor interruptor)
        : base($"Fiber #{fiberId} was interrupted by {interruptor}.")
    {
        FiberId = fiberId;
        Interruptor = interruptor;
    }

    /// <summary>The id of the interrupted fiber.</summary>
    public long FiberId { get; }

    /// <summary>Who interrupted it.</summary>
    public Interruptor Interruptor { get; }
}

/// <summary>The value of a fiber that returns nothing.</summary>
public readonly record struct Unit
{
    /// <summary>The only value.</summary>
    public static Unit Value => default;
}
