using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace FiberManager.Core.Fibers;

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
