using System.Diagnostics;

namespace FiberManager.Core.Fibers;

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
