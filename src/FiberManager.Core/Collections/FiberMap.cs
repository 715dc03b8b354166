using FiberManager.Core.Fibers;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace FiberManager.Core.Collections;

/// <summary>
/// A keyed, self-cleaning collection of fibers: at most one fiber per key. Running under a key
/// that holds a fiber replaces it (the new fiber is stored first, then the old one is
/// interrupted) unless <c>onlyIfMissing</c>. A fiber leaves the map when it ends, but only if it
/// is still the one stored under its key: a replaced fiber that ends late never removes its successor.
/// </summary>
/// <typeparam name="TKey">The key type.</typeparam>
/// <example><code>
/// var sessions = new FiberMap&lt;string&gt;(scope);
/// sessions.Run("user-1", ctx => RunSessionAsync("user-1", ctx.CancellationToken)); // replaces any previous session
/// await sessions.RemoveAsync("user-1"); // interrupts it and waits for it
/// </code></example>
[DebuggerDisplay("FiberMap Count = {Count}, Closed = {IsClosed}")]
public sealed class FiberMap<TKey> : IAsyncDisposable
    where TKey : notnull
{
    private readonly FiberCollectionCore<TKey> _core;

    /// <summary>Creates a map that closes when <paramref name="scope"/> closes.</summary>
    public FiberMap(FiberScope scope, IEqualityComparer<TKey>? comparer = null) =>
        _core = new FiberCollectionCore<TKey>(scope, comparer);

    /// <summary>The map's id (the interruptor reported for fibers it interrupts).</summary>
    public long Id => _core.Id;

    /// <summary>The number of fibers stored.</summary>
    public int Count => _core.MemberCount;

    /// <summary>True once the map is closed.</summary>
    public bool IsClosed => _core.IsClosed;

    /// <summary>The keys that hold a fiber now.</summary>
    public IReadOnlyList<TKey> Keys => _core.Keys();

    /// <summary>
    /// Forks <paramref name="body"/> under <paramref name="key"/>, replacing (and interrupting) the
    /// fiber there. With <paramref name="onlyIfMissing"/>, when the key holds a fiber the body is
    /// not run and the returned fiber is already interrupted (use <see cref="TryGet"/> for the
    /// running one).
    /// </summary>
    /// <example><code>map.Run("tenant-7", async ctx => { await ConsumeAsync(ctx.CancellationToken); return 0; });</code></example>
    public Fiber<T> Run<T>(TKey key, Func<FiberContext, Task<T>> body, bool onlyIfMissing = false, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunKeyed<T>(key, body, onlyIfMissing, propagateInterruption);
    }

    /// <summary>Forks a body that returns nothing under <paramref name="key"/> (see <see cref="Run{T}"/>).</summary>
    /// <example><code>map.Run("tenant-7", ctx => ConsumeAsync(ctx.CancellationToken));</code></example>
    public Fiber<Unit> Run(TKey key, Func<FiberContext, Task> body, bool onlyIfMissing = false, bool propagateInterruption = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        return _core.RunKeyed<Unit>(key, body, onlyIfMissing, propagateInterruption);
    }

    /// <summary>
    /// Stores a fiber forked elsewhere under <paramref name="key"/> (replacing the one there unless
    /// <paramref name="onlyIfMissing"/>). When it is not stored it is interrupted and false is returned.
    /// Setting the fiber already stored under <paramref name="key"/> changes nothing and returns true.
    /// </summary>
    /// <example><code>map.Set("job-1", runtime.ForkDaemon(ctx => JobAsync(ctx)));</code></example>
    public bool Set(TKey key, Fiber fiber, bool onlyIfMissing = false, bool propagateInterruption = false) =>
        _core.TryStore(key, fiber, onlyIfMissing, propagateInterruption);

    /// <summary>The fiber stored under <paramref name="key"/>.</summary>
    /// <example><code>if (map.TryGet("job-1", out var fiber)) await fiber.InterruptAsync();</code></example>
    public bool TryGet(TKey key, [NotNullWhen(true)] out Fiber? fiber) => _core.TryGet(key, out fiber);

    /// <summary>True when <paramref name="key"/> holds a fiber.</summary>
    public bool ContainsKey(TKey key) => _core.TryGet(key, out _);

    /// <summary>Removes the fiber under <paramref name="key"/>, interrupts it and waits for it to end.</summary>
    /// <returns>False when the key held no fiber.</returns>
    /// <example><code>bool removed = await map.RemoveAsync("job-1");</code></example>
    public Task<bool> RemoveAsync(TKey key) => _core.RemoveAsync(key);

    /// <summary>Interrupts every fiber and waits for them; the map stays open.</summary>
    public Task ClearAsync() => _core.ClearAsync();

    /// <summary>Completes when the map is empty (at once if it is).</summary>
    public Task AwaitEmptyAsync(CancellationToken cancellationToken = default) => _core.AwaitEmptyAsync(cancellationToken);

    /// <summary>Completes when the map is empty; throws the first failure of a fiber.</summary>
    public Task JoinAsync(CancellationToken cancellationToken = default) => _core.JoinAsync(cancellationToken);

    /// <summary>A plain delegate that forks under a key into this map, for callback-style code.</summary>
    /// <example><code>var run = map.Runtime&lt;int&gt;(); run("k", ctx => Task.FromResult(1));</code></example>
    public Func<TKey, Func<FiberContext, Task<T>>, Fiber<T>> Runtime<T>(bool onlyIfMissing = false) =>
        (key, body) => Run(key, body, onlyIfMissing);

    /// <summary>A delegate that forks under a key and returns a task of the value.</summary>
    /// <example><code>var run = map.RuntimeTask&lt;int&gt;(); int v = await run("k", ctx => Task.FromResult(1));</code></example>
    public Func<TKey, Func<FiberContext, Task<T>>, Task<T>> RuntimeTask<T>(bool onlyIfMissing = false) =>
        (key, body) => Run(key, body, onlyIfMissing).JoinAsync();

    /// <summary>Closes the map: interrupts every fiber and waits; later runs are interrupted at once.</summary>
    public Task CloseAsync() => _core.CloseAsync();

    /// <summary>Closes the map (see <see cref="CloseAsync"/>).</summary>
    public ValueTask DisposeAsync() => new(CloseAsync());
}
