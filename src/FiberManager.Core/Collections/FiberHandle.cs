using FiberManager.Core.Fibers;
using System.Diagnostics;

namespace FiberManager.Core.Collections;

/// <summary>
/// A single slot for a fiber: running into it replaces (and interrupts) the fiber there unless
/// <c>onlyIfMissing</c>; the fiber leaves the slot when it ends, unless it was already replaced.
/// </summary>
/// <example><code>
/// var refresher = new FiberHandle(scope);
/// refresher.Run(ctx => RefreshCacheAsync(ctx.CancellationToken), onlyIfMissing: true); // at most one refresh at a time
/// </code></example>
[DebuggerDisplay("FiberHandle Occupied = {Fiber != null}, Closed = {IsClosed}")]
public sealed class FiberHandle : IAsyncDisposable
{
    private readonly FiberCollectionCore<Unit> _core;

    /// <summary>Creates a handle that closes when <paramref name="scope"/> closes.</summary>
    public FiberHandle(FiberScope scope) => _core = new FiberCollectionCore<Unit>(scope, null);

    /// <summary>The handle's id (the interruptor reported for fibers it interrupts).</summary>
    public long Id => _core.Id;

    /// <summary>The fiber in the slot, or null.</summary>
    public Fiber? Fiber => _core.TryGet(default, out var fiber) ? fiber : null;

    /// <summary>True once the handle is closed.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>Forks <paramref name="body"/> into the slot (see <see cref="FiberMap{TKey}.Run{T}"/> for the replace rules).</summary>
    /// <example><code>handle.Run(async ctx => { await ctx.NeverAsync(); return 0; });</code></example>
    public Fiber<T> Run<T>(Func<FiberContext, Task<T>> body, bool onlyIfMissing = false, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunKeyed<T>(default, body, onlyIfMissing, propagateInterruption);
    }

    /// <summary>Forks a body that returns nothing into the slot.</summary>
    /// <example><code>handle.Run(ctx => PollAsync(ctx.CancellationToken));</code></example>
    public Fiber<Unit> Run(Func<FiberContext, Task> body, bool onlyIfMissing = false, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunKeyed<Unit>(default, body, onlyIfMissing, propagateInterruption);
    }

    /// <summary>
    /// Puts a fiber forked elsewhere into the slot; when it is not stored it is interrupted and false
    /// is returned. Setting the fiber already in the slot changes nothing and returns true.
    /// </summary>
    /// <example><code>handle.Set(runtime.ForkDaemon(ctx => WorkAsync(ctx)));</code></example>
    public bool Set(Fiber fiber, bool onlyIfMissing = false, bool propagateInterruption = false) =>
        _core.TryStore(default, fiber, onlyIfMissing, propagateInterruption);

    /// <summary>Interrupts the fiber in the slot and waits for it.</summary>
    public Task ClearAsync() => _core.ClearAsync();

    /// <summary>Completes when the slot is empty.</summary>
    public Task AwaitEmptyAsync(CancellationToken cancellationToken = default) => _core.AwaitEmptyAsync(cancellationToken);

    /// <summary>Completes when the slot is empty; throws the first failure of a fiber run in it.</summary>
    public Task JoinAsync(CancellationToken cancellationToken = default) => _core.JoinAsync(cancellationToken);

    /// <summary>A plain delegate that runs its argument in the slot.</summary>
    /// <example><code>var run = handle.Runtime&lt;int&gt;(onlyIfMissing: true);</code></example>
    public Func<Func<FiberContext, Task<T>>, Fiber<T>> Runtime<T>(bool onlyIfMissing = false) =>
        body => Run(body, onlyIfMissing);

    /// <summary>A delegate that runs its argument in the slot and returns a task of its value.</summary>
    /// <example><code>var run = handle.RuntimeTask&lt;int&gt;(); int v = await run(ctx => Task.FromResult(1));</code></example>
    public Func<Func<FiberContext, Task<T>>, Task<T>> RuntimeTask<T>(bool onlyIfMissing = false) =>
        body => Run(body, onlyIfMissing).JoinAsync();

    /// <summary>Closes the handle: interrupts the fiber and waits; later runs are interrupted at once.</summary>
    public Task CloseAsync() => _core.CloseAsync();

    /// <summary>Closes the handle (see <see cref="CloseAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(CloseAsync());
}
