using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>A fiber that produces a value of type <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The value; <see cref="Unit"/> for fibers that return nothing.</typeparam>
/// <example><code>
/// Fiber&lt;int&gt; fiber = ctx.Fork(async c => { await c.DelayAsync(TimeSpan.FromSeconds(1)); return 1; });
/// Exit&lt;int&gt; exit = await fiber.AwaitAsync();   // never throws
/// int value = await fiber.JoinAsync();              // rethrows a failure
/// </code></example>
[DebuggerDisplay("Fiber #{Id} {Status}")]
public sealed class Fiber<T> : Fiber, IThreadPoolWorkItem
{
    private object? _body;
    private ExecutionContext? _executionContext;
    private T? _value;
    private int _started;

    internal Fiber(FiberRuntime runtime, Fiber? parent, FiberScope ambientScope, object body)
        : base(runtime, parent, ambientScope)
    {
        Debug.Assert(body is Func<FiberContext, Task<T>> || body is Func<FiberContext, Task> || body is IFiberBody, "body has a supported shape");
        _body = body;
    }

    /// <summary>Waits for the fiber to end and returns its exit with its value; never throws for the fiber's own outcome.</summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    public ValueTask<Exit<T>> AwaitAsync(CancellationToken cancellationToken = default)
    {
        var exit = AwaitExitAsync(cancellationToken);
        return exit.IsCompletedSuccessfully ? new ValueTask<Exit<T>>(new Exit<T>(exit.Result, _value)) : AwaitSlowAsync(exit);
    }

    /// <summary>
    /// Waits for the fiber and returns its value; rethrows its failure (with the original stack),
    /// and throws <see cref="FiberInterruptedException"/> when it was interrupted.
    /// </summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    public async Task<T> JoinAsync(CancellationToken cancellationToken = default)
    {
        var exit = await AwaitAsync(cancellationToken).ConfigureAwait(false);
        return exit.GetValueOrThrow(Id);
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        var context = _executionContext;
        _executionContext = null;
        if (context is null)
        {
            Run();
        }
        else
        {
            ExecutionContext.Run(context, static state => ((Fiber<T>)state!).Run(), this);
        }

        MarkYielded();
    }

    /// <summary>Queues the fiber's body on the thread pool, flowing the caller's execution context.</summary>
    internal void Start()
    {
        _executionContext = ExecutionContext.Capture();
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private void Run()
    {
        if (IsInterruptRequested)
        {
            // Interrupted before it ever ran (its owner was closed, or it was interrupted while
            // queued): the body never starts, so there is nothing to cancel cooperatively.
            _body = null;
            _ = FinishAsync(ExitKind.Interrupted, null);
            return;
        }

        _ = RunAsync();
    }

    private async Task RunAsync()
    {
        var body = _body;
        _body = null;
        var context = new FiberContext(this, AmbientScope);
        var kind = ExitKind.Success;
        Exception? failure = null;
        Task? task;
        try
        {
            task = body switch
            {
                Func<FiberContext, Task<T>> typed => typed(context),
                Func<FiberContext, Task> untyped => untyped(context),
                _ => ((IFiberBody)body!).RunAsync(context),
            };
            if (task is null)
            {
                throw new NullReferenceException();
            }
        }
        catch (Exception exception)
        {
            task = null;
            kind = Classify(exception);
            failure = kind == ExitKind.Failure ? exception : null;
        }

        if (task is not null)
        {
            // Awaited without rethrowing: an interrupted body ends in a cancelled task, and throwing
            // its exception once more here only to catch it would double the cost of an interrupt.
            await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            (kind, failure) = Outcome(task);
        }

        await FinishAsync(kind, failure).ConfigureAwait(false);
    }

    /// <summary>How a completed body task ended: what awaiting it would have returned or thrown.</summary>
    private (ExitKind Kind, Exception? Failure) Outcome(Task task)
    {
        if (task.IsCompletedSuccessfully)
        {
            if (task is Task<T> typed)
            {
                _value = typed.Result;
            }

            return (ExitKind.Success, null);
        }

        Exception exception;
        if (task.IsFaulted)
        {
            exception = task.Exception!.InnerExceptions[0]; // the exception await rethrows
        }
        else if (IsInterruptRequested)
        {
            return (ExitKind.Interrupted, null);
        }
        else
        {
            // Cancelled, but not by an interrupt: the body failed with the cancellation exception.
            try
            {
                task.GetAwaiter().GetResult();
                return (ExitKind.Success, null); // unreachable: the task is cancelled
            }
            catch (Exception thrown)
            {
                exception = thrown;
            }
        }

        var kind = Classify(exception);
        return (kind, kind == ExitKind.Failure ? exception : null);
    }

    private async ValueTask<Exit<T>> AwaitSlowAsync(ValueTask<Exit> exit) =>
        new(await exit.ConfigureAwait(false), _value);
}
