using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>
/// The root of a fiber supervision tree: a clock (<see cref="TimeProvider"/>) and a global scope
/// for daemon fibers. Disposing the runtime closes the global scope, interrupting every fiber in it.
/// </summary>
/// <example><code>
/// await using var runtime = new FiberRuntime(TimeProvider.System);
/// var fiber = runtime.ForkDaemon(async ctx =>
/// {
///     var child = ctx.Fork(async c => { await c.DelayAsync(TimeSpan.FromSeconds(1)); return 1; });
///     return await child.JoinAsync() + 1;
/// });
/// Console.WriteLine(await fiber.JoinAsync()); // 2
/// </code></example>
[DebuggerDisplay("FiberRuntime Daemons = {GlobalScope.FiberCount}")]
public sealed class FiberRuntime : IAsyncDisposable
{
    private static long s_nextId;

    /// <summary>Creates a runtime on <paramref name="timeProvider"/> (the system clock by default).</summary>
    public FiberRuntime(TimeProvider? timeProvider = null)
    {
        TimeProvider = timeProvider ?? TimeProvider.System;
        GlobalScope = new FiberScope(this, null);
    }

    /// <summary>A process-wide runtime on the system clock.</summary>
    public static FiberRuntime Default { get; } = new();

    /// <summary>The clock every delay and timeout of this runtime uses.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The scope daemon fibers live in; it closes when the runtime is disposed.</summary>
    public FiberScope GlobalScope { get; }

    /// <summary>Forks a daemon fiber: attached to the global scope, supervised by no parent.</summary>
    /// <example><code>var fiber = runtime.ForkDaemon(async ctx => { await ctx.DelayAsync(TimeSpan.FromSeconds(1)); return "done"; });</code></example>
    public Fiber<T> ForkDaemon<T>(Func<FiberContext, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return ForkCore<T>(null, GlobalScope, body);
    }

    /// <summary>Forks a daemon fiber that returns nothing.</summary>
    /// <example><code>runtime.ForkDaemon(async ctx => await ctx.NeverAsync());</code></example>
    public Fiber<Unit> ForkDaemon(Func<FiberContext, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return ForkCore<Unit>(null, GlobalScope, body);
    }

    /// <summary>Creates a scope under the global scope.</summary>
    /// <example><code>await using var scope = runtime.CreateScope();</code></example>
    public FiberScope CreateScope() => GlobalScope.CreateChild();

    /// <summary>Closes the global scope: every daemon fiber is interrupted and awaited.</summary>
    public ValueTask DisposeAsync() => GlobalScope.DisposeAsync();

    internal static long NextId() => Interlocked.Increment(ref s_nextId);

    /// <summary>
    /// Creates and starts a fiber. Its lifetime owner is <paramref name="parent"/> when given
    /// (fork), otherwise <paramref name="scope"/>; its ambient scope (for ForkScoped) is
    /// <paramref name="scope"/>. If the owner is closed, the fiber is interrupted before it runs.
    /// </summary>
    internal Fiber<T> ForkCore<T>(Fiber? parent, FiberScope scope, object body)
    {
        var fiber = CreateCore<T>(parent, scope, body);
        fiber.Start();
        return fiber;
    }

    /// <summary>Creates and registers a fiber without starting it (collections store it first).</summary>
    internal Fiber<T> CreateCore<T>(Fiber? parent, FiberScope scope, object body)
    {
        var owner = parent is not null ? parent.ChildList : scope.FiberList;
        var fiber = new Fiber<T>(this, parent, scope, body);
        if (!owner.TryAdd(fiber))
        {
            fiber.Interrupt(parent is not null
                ? new Interruptor(InterruptorKind.Fiber, parent.Id)
                : new Interruptor(InterruptorKind.Scope, scope.Id));
        }

        return fiber;
    }

    /// <summary>
    /// Creates a fiber with no lifetime owner, for collections: the collection supervises it
    /// (and closes with its scope). <paramref name="ambientScope"/> is its nearest scope.
    /// </summary>
    internal Fiber<T> CreateUnowned<T>(FiberScope ambientScope, object body) =>
        new(this, null, ambientScope, body);
}
