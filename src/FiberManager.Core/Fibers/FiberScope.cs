using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>
/// A lifetime for fibers and finalizers. Closing a scope interrupts every fiber attached to it,
/// waits for their finalizers (<c>finally</c> blocks) to run, then runs its own finalizers in
/// reverse order of registration (child scopes and fiber collections are among them). Closing is
/// idempotent; forking into a closed scope interrupts the new fiber at once (its body never runs).
/// </summary>
/// <example><code>
/// await using (var scope = runtime.CreateScope())
/// {
///     scope.Fork(async ctx => { while (true) await ctx.DelayAsync(TimeSpan.FromSeconds(1)); });
/// } // the loop is interrupted here, and its finally blocks have run
/// </code></example>
[DebuggerDisplay("Scope #{Id} Fibers = {FiberCount}, Closed = {IsClosed}")]
public sealed class FiberScope : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly FiberList _fibers = new();
    private readonly FiberScope? _parent;
    private SortedDictionary<long, Func<ValueTask>>? _finalizers;
    private TaskCompletionSource? _closed;
    private long _registrationInParent;

    internal FiberScope(FiberRuntime runtime, FiberScope? parent)
    {
        Runtime = runtime;
        _parent = parent;
        Id = FiberRuntime.NextId();
    }

    /// <summary>The scope's id, unique in this process among fibers, scopes and collections.</summary>
    public long Id { get; }

    /// <summary>The runtime the scope belongs to.</summary>
    public FiberRuntime Runtime { get; }

    /// <summary>True once closing has begun.</summary>
    public bool IsClosed => _fibers.IsClosed;

    /// <summary>The number of fibers attached to the scope and still running.</summary>
    public int FiberCount => _fibers.Count;

    /// <summary>A task that completes once the scope has closed (all fibers ended, all finalizers run).</summary>
    public Task Completion
    {
        get
        {
            lock (_lock)
            {
                _closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _closed.Task;
            }
        }
    }

    /// <summary>Forks <paramref name="body"/> into this scope ("fork in scope"): it outlives the forking fiber and is interrupted when the scope closes.</summary>
    /// <example><code>var fiber = outerScope.Fork(async ctx => { await ctx.NeverAsync(); return 0; });</code></example>
    public Fiber<T> Fork<T>(Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Runtime.ForkCore<T>(null, this, body);
    }

    /// <summary>Forks a body that returns nothing into this scope.</summary>
    /// <example><code>scope.Fork(async ctx => await ctx.DelayAsync(TimeSpan.FromSeconds(1)));</code></example>
    public Fiber<Unit> Fork(Func<FiberContext, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Runtime.ForkCore<Unit>(null, this, body);
    }

    /// <summary>Creates a scope that closes when this one closes (or earlier, on its own).</summary>
    /// <example><code>await using var inner = outer.CreateChild();</code></example>
    public FiberScope CreateChild()
    {
        var child = new FiberScope(Runtime, this);
        var registration = TryAddFinalizerCore(() => new ValueTask(child.CloseAsync()));
        if (registration == 0)
        {
            // This scope is closed: so is the child, at once.
            _ = child.CloseAsync();
        }
        else
        {
            child._registrationInParent = registration;
        }

        return child;
    }

    /// <summary>
    /// Registers <paramref name="finalizer"/> to run when the scope closes (after its fibers have
    /// ended; finalizers run in reverse order of registration).
    /// </summary>
    /// <returns>False when the scope is already closed (the finalizer is not run).</returns>
    /// <example><code>scope.TryAddFinalizer(() => { connection.Dispose(); return ValueTask.CompletedTask; });</code></example>
    public bool TryAddFinalizer(Func<ValueTask> finalizer)
    {
        ArgumentNullException.ThrowIfNull(finalizer);
        return TryAddFinalizerCore(finalizer) != 0;
    }

    /// <summary>
    /// Closes the scope: interrupts every attached fiber, waits for them, then runs the finalizers.
    /// Calling it again returns the same task. A finalizer that throws does not stop the others;
    /// the failures are reported together when the close completes.
    /// </summary>
    public Task CloseAsync()
    {
        TaskCompletionSource closed;
        lock (_lock)
        {
            if (_closed is not null && _fibers.IsClosed)
            {
                return _closed.Task;
            }

            closed = _closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // Closing the list under our lock makes "closed" one step for concurrent callers.
            _ = _fibers.Close();
        }

        _ = CloseCoreAsync(closed);
        return closed.Task;
    }

    /// <summary>Closes the scope (see <see cref="CloseAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>The fibers whose lifetime this scope owns.</summary>
    internal FiberList FiberList => _fibers;

    internal long TryAddFinalizerCore(Func<ValueTask> finalizer)
    {
        lock (_lock)
        {
            if (_fibers.IsClosed)
            {
                return 0;
            }

            var key = FiberRuntime.NextId();
            (_finalizers ??= [])[key] = finalizer;
            return key;
        }
    }

    internal void RemoveFinalizer(long registration)
    {
        lock (_lock)
        {
            _finalizers?.Remove(registration);
        }
    }

    private async Task CloseCoreAsync(TaskCompletionSource closed)
    {
        var fibers = _fibers.Snapshot();
        var by = new Interruptor(InterruptorKind.Scope, Id);
        foreach (var fiber in fibers)
        {
            fiber.Interrupt(by);
        }

        await Fiber.WhenAllDone(fibers).ConfigureAwait(false);

        List<Func<ValueTask>> finalizers;
        lock (_lock)
        {
            finalizers = _finalizers is null ? [] : [.. _finalizers.Values];
            _finalizers = null;
        }

        List<Exception>? errors = null;
        for (var i = finalizers.Count - 1; i >= 0; i--)
        {
            try
            {
                await finalizers[i]().ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                (errors ??= []).Add(exception);
            }
        }

        if (_parent is not null && _registrationInParent != 0)
        {
            _parent.RemoveFinalizer(_registrationInParent);
        }

        if (errors is null)
        {
            closed.TrySetResult();
        }
        else
        {
            closed.TrySetException(new AggregateException("One or more scope finalizers failed.", errors));
        }
    }
}
