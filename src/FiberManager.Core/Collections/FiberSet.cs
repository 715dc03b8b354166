using FiberManager.Core.Fibers;
using System.Diagnostics;

namespace FiberManager.Core.Collections;

/// <summary>
/// A self-cleaning collection of fibers: a fiber leaves the set by itself when it ends. Closing
/// the scope the set was made in (or the set itself) interrupts every member and waits for them.
/// </summary>
/// <remarks>
/// <see cref="JoinAsync"/> completes when the set is empty and fails with the first failure of
/// any member (an empty set joins at once). An interruption counts as a failure only for members
/// run or added with <c>propagateInterruption: true</c>, and only when it came from outside the
/// set (not from <see cref="ClearAsync"/> or closing).
/// </remarks>
/// <example><code>
/// await using var scope = runtime.CreateScope();
/// var set = new FiberSet(scope);
/// foreach (var job in jobs)
///     set.Run(ctx => ProcessAsync(job, ctx.CancellationToken));
/// await set.JoinAsync(); // every job done, or the first failure
/// </code></example>
[DebuggerDisplay("FiberSet Count = {Count}, Closed = {IsClosed}")]
public sealed class FiberSet : IAsyncDisposable
{
    private readonly FiberCollectionCore<Fiber> _core;

    /// <summary>Creates a set that closes when <paramref name="scope"/> closes.</summary>
    public FiberSet(FiberScope scope) =>
        _core = new FiberCollectionCore<Fiber>(scope, ReferenceEqualityComparer.Instance);

    /// <summary>The set's id (the interruptor reported for fibers it interrupts).</summary>
    public long Id => _core.Id;

    /// <summary>The number of member fibers still running.</summary>
    public int Count => _core.MemberCount;

    /// <summary>True once the set is closed: new fibers are interrupted at once.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>Forks <paramref name="body"/> into the set. If the set is closed the fiber is interrupted before it runs.</summary>
    /// <example><code>Fiber&lt;int&gt; f = set.Run(async ctx => { await ctx.DelayAsync(TimeSpan.FromSeconds(1)); return 1; });</code></example>
    public Fiber<T> Run<T>(Func<FiberContext, Task<T>> body, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunLinked<T>(body, propagateInterruption);
    }

    /// <summary>Forks a body that returns nothing into the set.</summary>
    /// <example><code>set.Run(async ctx => await HandleAsync(request, ctx.CancellationToken));</code></example>
    public Fiber<Unit> Run(Func<FiberContext, Task> body, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunLinked<Unit>(body, propagateInterruption);
    }

    /// <summary>
    /// Adds a fiber forked elsewhere. It leaves the set when it ends; clearing or closing the set
    /// interrupts it. When the set is closed the fiber is interrupted and false is returned.
    /// Adding a fiber that is already in the set changes nothing and returns true.
    /// </summary>
    /// <example><code>var fiber = runtime.ForkDaemon(ctx => WorkAsync(ctx)); set.TryAdd(fiber);</code></example>
    public bool TryAdd(Fiber fiber, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(fiber);
        return _core.TryStore(fiber, fiber, onlyIfMissing: false, propagateInterruption);
    }

    /// <summary>Completes when the set is empty (at once if it is).</summary>
    /// <example><code>await set.AwaitEmptyAsync(cancellationToken);</code></example>
    public Task AwaitEmptyAsync(CancellationToken cancellationToken = default) => _core.AwaitEmptyAsync(cancellationToken);

    /// <summary>Interrupts every member and waits for them; the set stays open.</summary>
    /// <example><code>await set.ClearAsync(); // set.Count == 0</code></example>
    public Task ClearAsync() => _core.ClearAsync();

    /// <summary>Completes when the set is empty; throws the first failure of a member.</summary>
    /// <example><code>try { await set.JoinAsync(); } catch (Exception first) { log(first); }</code></example>
    public Task JoinAsync(CancellationToken cancellationToken = default) => _core.JoinAsync(cancellationToken);

    /// <summary>A plain delegate that forks its argument into this set, for callback-style code.</summary>
    /// <example><code>
    /// var run = set.Runtime&lt;Unit&gt;();
    /// button.Clicked += (_, _) => run(async ctx => { await SaveAsync(ctx.CancellationToken); return Unit.Value; });
    /// </code></example>
    public Func<Func<FiberContext, Task<T>>, Fiber<T>> Runtime<T>(bool propagateInterruption = false) =>
        body => Run(body, propagateInterruption);

    /// <summary>A delegate that forks its argument into this set and returns a task of its value (the Promise twin).</summary>
    /// <example><code>
    /// var run = set.RuntimeTask&lt;string&gt;();
    /// string reply = await run(ctx => AskAsync(ctx.CancellationToken));
    /// </code></example>
    public Func<Func<FiberContext, Task<T>>, Task<T>> RuntimeTask<T>(bool propagateInterruption = false) =>
        body => Run(body, propagateInterruption).JoinAsync();

    /// <summary>Closes the set: interrupts every member and waits for them; later runs are interrupted at once.</summary>
    public Task CloseAsync() => _core.CloseAsync();

    /// <summary>Closes the set (see <see cref="CloseAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(CloseAsync());
}
