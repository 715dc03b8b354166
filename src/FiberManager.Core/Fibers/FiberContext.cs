using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>
/// What a fiber's body receives: its fiber, its cancellation token, its clock and its nearest
/// scope, and the operations that fork relative to them.
/// </summary>
/// <remarks>
/// The four lifetime strategies:
/// <list type="number">
/// <item><see cref="Fork{T}"/>: a child, interrupted when this fiber ends;</item>
/// <item><see cref="ForkDaemon{T}"/>: the global scope, outlives this fiber;</item>
/// <item><see cref="ForkScoped{T}"/>: the nearest scope (<see cref="Scope"/>), outlives this fiber, ends with the scope;</item>
/// <item><see cref="ForkIn{T}"/>: a given scope.</item>
/// </list>
/// </remarks>
/// <example><code>
/// runtime.ForkDaemon(async ctx =>
/// {
///     ctx.Fork(async c => { while (true) { await c.DelayAsync(TimeSpan.FromSeconds(1)); Console.WriteLine("tick"); } });
///     await ctx.DelayAsync(TimeSpan.FromSeconds(3)); // the ticking child is interrupted when this returns
/// });
/// </code></example>
[DebuggerDisplay("Context of {Fiber}")]
public readonly struct FiberContext
{
    internal FiberContext(Fiber fiber, FiberScope scope)
    {
        Fiber = fiber;
        Scope = scope;
    }

    /// <summary>The fiber running the body.</summary>
    public Fiber Fiber { get; }

    /// <summary>The nearest scope: where <see cref="ForkScoped{T}"/> attaches fibers.</summary>
    public FiberScope Scope { get; }

    /// <summary>Cancelled when the fiber is interrupted (outside uninterruptible regions).</summary>
    public CancellationToken CancellationToken => Fiber.Token;

    /// <summary>The runtime's clock.</summary>
    public TimeProvider TimeProvider => Fiber.Runtime.TimeProvider;

    /// <summary>The runtime.</summary>
    public FiberRuntime Runtime => Fiber.Runtime;

    /// <summary>Forks a child: supervised by this fiber, interrupted (and awaited) when this fiber ends.</summary>
    /// <example><code>var child = ctx.Fork(async c => { await c.DelayAsync(TimeSpan.FromSeconds(1)); return 1; });</code></example>
    public Fiber<T> Fork<T>(Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Fiber.Runtime.ForkCore<T>(Fiber, Scope, body);
    }

    /// <summary>Forks a child that returns nothing.</summary>
    /// <example><code>ctx.Fork(async c => await c.NeverAsync());</code></example>
    public Fiber<Unit> Fork(Func<FiberContext, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return Fiber.Runtime.ForkCore<Unit>(Fiber, Scope, body);
    }

    /// <summary>Forks a daemon: attached to the global scope, it outlives this fiber.</summary>
    /// <example><code>ctx.ForkDaemon(async c => { await c.NeverAsync(); return 0; });</code></example>
    public Fiber<T> ForkDaemon<T>(Func<FiberContext, Task<T>> body) => Fiber.Runtime.ForkDaemon(body);

    /// <summary>Forks a daemon that returns nothing.</summary>
    /// <example><code>ctx.ForkDaemon(async c => await c.NeverAsync());</code></example>
    public Fiber<Unit> ForkDaemon(Func<FiberContext, Task> body) => Fiber.Runtime.ForkDaemon(body);

    /// <summary>Forks into the nearest scope: outlives this fiber, interrupted when that scope closes.</summary>
    /// <example><code>ctx.ForkScoped(async c => { await c.NeverAsync(); return 0; });</code></example>
    public Fiber<T> ForkScoped<T>(Func<FiberContext, Task<T>> body) => Scope.Fork(body);

    /// <summary>Forks into the nearest scope a body that returns nothing.</summary>
    /// <example><code>ctx.ForkScoped(async c => await c.NeverAsync());</code></example>
    public Fiber<Unit> ForkScoped(Func<FiberContext, Task> body) => Scope.Fork(body);

    /// <summary>Forks into <paramref name="scope"/>.</summary>
    /// <example><code>ctx.ForkIn(outerScope, async c => { await c.NeverAsync(); return 0; });</code></example>
    public Fiber<T> ForkIn<T>(FiberScope scope, Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.Fork(body);
    }

    /// <summary>Forks into <paramref name="scope"/> a body that returns nothing.</summary>
    /// <example><code>ctx.ForkIn(outerScope, async c => await c.NeverAsync());</code></example>
    public Fiber<Unit> ForkIn(FiberScope scope, Func<FiberContext, Task> body)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.Fork(body);
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a fresh scope (a child of <see cref="Scope"/>) as its
    /// nearest scope, and closes that scope when the body ends, however it ends.
    /// </summary>
    /// <example><code>
    /// await ctx.ScopedAsync(async inner =>
    /// {
    ///     inner.ForkScoped(async c => await c.NeverAsync()); // interrupted when ScopedAsync returns
    ///     await inner.DelayAsync(TimeSpan.FromSeconds(5));
    /// });
    /// </code></example>
    public async Task<T> ScopedAsync<T>(Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var scope = Scope.CreateChild();
        try
        {
            return await body(new FiberContext(Fiber, scope)).ConfigureAwait(false);
        }
        finally
        {
            await scope.CloseAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="body"/> in a fresh scope that closes when it ends.</summary>
    /// <example><code>await ctx.ScopedAsync(async inner => await inner.DelayAsync(TimeSpan.FromSeconds(1)));</code></example>
    public Task ScopedAsync(Func<FiberContext, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return ScopedAsync<Unit>(async inner =>
        {
            await body(inner).ConfigureAwait(false);
            return default;
        });
    }

    /// <summary>
    /// Waits <paramref name="delay"/> on the runtime's clock; the fiber is Suspended meanwhile.
    /// Throws <see cref="OperationCanceledException"/> when the fiber is interrupted. The timer
    /// starts when the result is awaited (await it once, or call <c>AsTask()</c>).
    /// </summary>
    /// <example><code>await ctx.DelayAsync(TimeSpan.FromSeconds(1));</code></example>
    public ValueTask DelayAsync(TimeSpan delay) => FiberDelay.Create(Fiber, delay);

    /// <summary>Waits until the fiber is interrupted (then throws <see cref="OperationCanceledException"/>).</summary>
    /// <example><code>await ctx.NeverAsync(); // parks the fiber until it is interrupted</code></example>
    public ValueTask NeverAsync() => FiberDelay.Create(Fiber, Timeout.InfiniteTimeSpan);

    /// <summary>Awaits <paramref name="task"/>, reporting the fiber as Suspended meanwhile.</summary>
    /// <example><code>await ctx.SuspendAsync(channel.Reader.WaitToReadAsync(ctx.CancellationToken).AsTask());</code></example>
    public Task SuspendAsync(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.IsCompleted)
        {
            return task;
        }

        return Suspended(Fiber, task);

        static async Task Suspended(Fiber fiber, Task task)
        {
            fiber.EnterSuspended();
            try
            {
                await task.ConfigureAwait(false);
            }
            finally
            {
                fiber.ExitSuspended();
            }
        }
    }

    /// <summary>
    /// Enters an uninterruptible region: an interruption requested inside it takes effect (the
    /// token is cancelled) when the region is disposed. Regions nest.
    /// </summary>
    /// <example><code>
    /// using (ctx.Uninterruptible())
    /// {
    ///     await CommitAsync(CancellationToken.None); // not cut short by an interrupt
    /// }
    /// </code></example>
    public UninterruptibleRegion Uninterruptible()
    {
        Fiber.EnterUninterruptible();
        return new UninterruptibleRegion(Fiber);
    }

    /// <summary>
    /// Runs every body as a child fiber and returns all results in order. The first failure
    /// interrupts the others, waits for them, and is rethrown. If this fiber is interrupted
    /// meanwhile, the children are interrupted and awaited before the interruption propagates.
    /// </summary>
    /// <example><code>int[] sizes = await ctx.AllAsync(urls.Select(u => (Func&lt;FiberContext, Task&lt;int&gt;&gt;)(c => FetchAsync(u, c.CancellationToken))));</code></example>
    public async Task<T[]> AllAsync<T>(IEnumerable<Func<FiberContext, Task<T>>> bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        var self = this;
        var fibers = bodies.Select(self.Fork).ToArray();
        if (fibers.Length == 0)
        {
            return [];
        }

        var watcher = FirstExitWatcher.FirstFailure(fibers, Fiber.Id);
        await AwaitChildrenAsync(watcher.Task, fibers).ConfigureAwait(false);
        if (watcher.First is Fiber<T> failed)
        {
            // The first to fail, not the first in order: the others may be interrupted because of it.
            await failed.JoinAsync().ConfigureAwait(false); // rethrows its failure (or its interruption)
        }

        var results = new T[fibers.Length];
        for (var i = 0; i < fibers.Length; i++)
        {
            results[i] = await fibers[i].JoinAsync().ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>
    /// Races the bodies as child fibers: the first to succeed wins, the others are interrupted and
    /// awaited before this returns. If every body fails, throws an <see cref="AggregateException"/> of the failures.
    /// If this fiber is interrupted meanwhile, the racers are interrupted and awaited before the interruption propagates.
    /// </summary>
    /// <example><code>string fastest = await ctx.RaceAsync(c => PrimaryAsync(c.CancellationToken), c => ReplicaAsync(c.CancellationToken));</code></example>
    public async Task<T> RaceAsync<T>(params Func<FiberContext, Task<T>>[] bodies)
    {
        ArgumentNullException.ThrowIfNull(bodies);
        if (bodies.Length == 0)
        {
            throw new ArgumentException("A race needs at least one body.", nameof(bodies));
        }

        var self = this;
        var fibers = bodies.Select(self.Fork).ToArray();
        var watcher = FirstExitWatcher.FirstSuccess(fibers, Fiber.Id);
        await AwaitChildrenAsync(watcher.Task, fibers).ConfigureAwait(false);
        var winner = watcher.First;
        if (winner is not null)
        {
            return await ((Fiber<T>)winner).JoinAsync().ConfigureAwait(false);
        }

        var failures = new List<Exception>();
        foreach (var fiber in fibers)
        {
            var exit = await fiber.AwaitExitAsync().ConfigureAwait(false);
            failures.Add(exit.Exception ?? new FiberInterruptedException(fiber.Id, exit.Interruptor));
        }

        throw new AggregateException("Every racer failed.", failures);
    }

    /// <summary>
    /// Runs <paramref name="body"/> as a child fiber; if it has not ended after
    /// <paramref name="timeout"/> (on the runtime's clock) it is interrupted and awaited, and a
    /// <see cref="TimeoutException"/> is thrown. If this fiber is interrupted meanwhile, the child is
    /// interrupted and awaited before the interruption propagates.
    /// </summary>
    /// <example><code>var reply = await ctx.TimeoutAsync(TimeSpan.FromSeconds(5), c => AskAsync(c.CancellationToken));</code></example>
    public async Task<T> TimeoutAsync<T>(TimeSpan timeout, Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var fiber = Fork(body);
        using var timerCancel = new CancellationTokenSource();
        var timer = Task.Delay(timeout, TimeProvider, timerCancel.Token);
        try
        {
            await AwaitChildrenAsync(Task.WhenAny(fiber.WhenDone(), timer), [fiber]).ConfigureAwait(false);
        }
        finally
        {
            timerCancel.Cancel(); // drop the timer, however this ends
        }

        if (fiber.IsDone)
        {
            return await fiber.JoinAsync().ConfigureAwait(false);
        }

        fiber.Interrupt(new Interruptor(InterruptorKind.Fiber, Fiber.Id));
        var exit = await fiber.AwaitAsync().ConfigureAwait(false);
        if (exit.IsSuccess)
        {
            return exit.Value!; // it finished just as the timer fired
        }

        throw new TimeoutException($"The operation did not complete within {timeout}.");
    }

    /// <summary>
    /// Awaits <paramref name="done"/>, suspended. If this fiber is interrupted meanwhile, interrupts
    /// <paramref name="children"/> and waits for them before rethrowing: a combinator never returns,
    /// or throws, while its children still run.
    /// </summary>
    private async Task AwaitChildrenAsync(Task done, Fiber[] children)
    {
        try
        {
            await SuspendAsync(done.WaitAsync(CancellationToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            var by = new Interruptor(InterruptorKind.Fiber, Fiber.Id);
            foreach (var child in children)
            {
                child.Interrupt(by);
            }

            await Fiber.WhenAllDone(children).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Watches combinator children: the first to end with the exit it looks for (success for a
    /// race, anything else for all) is <see cref="First"/>, and the others are interrupted at once.
    /// Completes when every child has ended.
    /// </summary>
    private sealed class FirstExitWatcher : TaskCompletionSource, IFiberObserver
    {
        private readonly Fiber[] _fibers;
        private readonly Interruptor _by;
        private readonly bool _onSuccess;
        private int _remaining;
        private Fiber? _first;

        private FirstExitWatcher(Fiber[] fibers, long parentId, bool onSuccess)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _fibers = fibers;
            _by = new Interruptor(InterruptorKind.Fiber, parentId);
            _onSuccess = onSuccess;
            _remaining = fibers.Length;
            foreach (var fiber in fibers)
            {
                fiber.AddObserver(this);
            }
        }

        /// <summary>The first child that ended without success (failed, or interrupted from elsewhere), if any (<see cref="AllAsync{T}"/>).</summary>
        public static FirstExitWatcher FirstFailure(Fiber[] fibers, long parentId) => new(fibers, parentId, onSuccess: false);

        /// <summary>The first child that succeeded, if any (<see cref="RaceAsync{T}"/>).</summary>
        public static FirstExitWatcher FirstSuccess(Fiber[] fibers, long parentId) => new(fibers, parentId, onSuccess: true);

        /// <summary>The first child whose exit matched, if any.</summary>
        public Fiber? First => Volatile.Read(ref _first);

        public void OnFiberDone(Fiber fiber)
        {
            if (fiber.TryGetExit(out var exit) && exit.IsSuccess == _onSuccess && Interlocked.CompareExchange(ref _first, fiber, null) is null)
            {
                foreach (var other in _fibers)
                {
                    if (!ReferenceEquals(other, fiber))
                    {
                        other.Interrupt(_by);
                    }
                }
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                TrySetResult();
            }
        }
    }
}
