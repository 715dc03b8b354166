using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>
/// A running unit of work with an identity, a status and an exit, that can be awaited, joined
/// and interrupted, and whose lifetime follows a supervision tree (a parent fiber or a scope).
/// </summary>
/// <remarks>
/// <para>Fibers are created by forking: <see cref="FiberContext.Fork{T}"/> (a child, interrupted
/// when its parent ends), <see cref="FiberContext.ForkDaemon{T}"/> (the global scope),
/// <see cref="FiberContext.ForkScoped{T}"/> (the nearest scope) and
/// <see cref="FiberScope.Fork{T}"/> (a given scope).</para>
/// <para>Interruption is cooperative: it cancels <see cref="FiberContext.CancellationToken"/>
/// (unless the fiber is inside an uninterruptible region, where it waits for the region to end).
/// When a fiber ends, however it ends, it first interrupts and awaits its children, then records
/// its exit, leaves its owner and wakes its awaiters, exactly once.</para>
/// <para>A fiber costs one object: no thread, no timer; the cancellation source and the
/// completion source are created only when someone asks for them.</para>
/// </remarks>
/// <example><code>
/// await using var runtime = new FiberRuntime();
/// var fiber = runtime.ForkDaemon(async ctx =>
/// {
///     await ctx.DelayAsync(TimeSpan.FromSeconds(1));
///     return 42;
/// });
/// int answer = await fiber.JoinAsync();
/// </code></example>
[DebuggerDisplay("Fiber #{Id} {Status}")]
public abstract class Fiber
{
    // _interruptState: low 29 bits = uninterruptible depth; RequestedBit = an interruption was
    // requested; CancelledBit = the token was (or must be, once created) cancelled.
    // Invariant: CancelledBit implies RequestedBit; CancelledBit is set only while depth == 0.
    private const int RequestedBit = 1 << 29;
    private const int CancelledBit = 1 << 30;
    private const int DepthMask = RequestedBit - 1;

    private static readonly object s_completed = new();
    private static readonly FiberList s_closedChildren = CreateClosedList();

    private int _interruptState;
    private long _interruptorBits;
    private CancellationTokenSource? _cts;

    // The runtime wait (FiberDelay) the fiber is parked in, completed by the interrupt itself
    // right after the token's callbacks have run; null when there is none, or when the wait had to
    // register on the token instead (another one held the slot).
    private FiberDelay? _park;

    // null | s_completed | IFiberObserver | IFiberObserver[]: observers notified once at the end.
    private object? _observers;
    private CompletionSource? _doneSource;
    private volatile bool _isDone;
    private volatile bool _observersNotified;
    // True once the body's first synchronous part has given its starting thread back (it awaited
    // something not yet complete, or ended): from then on every await up its call chain is registered.
    private volatile bool _hasYielded;
    private int _suspendDepth;
    private FiberList? _children;

    private ExitKind _exitKind;
    private Exception? _failure;

    // Intrusive links in the owner's FiberList (the lifetime owner: a parent, a scope, or a FiberSet
    // the fiber was run in), guarded by that list's lock. ListOwner is set once, before the fiber
    // starts, and cleared when the fiber leaves; ListFlag is the owner's per-member flag (a
    // FiberSet's propagateInterruption), written before the fiber is linked.
    internal FiberList? ListOwner;
    internal Fiber? ListPrev;
    internal Fiber? ListNext;
    internal bool ListFlag;

    private protected Fiber(FiberRuntime runtime, Fiber? parent, FiberScope ambientScope)
    {
        Debug.Assert(ReferenceEquals(runtime, ambientScope.Runtime), "a fiber's ambient scope belongs to its runtime");
        Parent = parent;
        AmbientScope = ambientScope;
        Id = FiberRuntime.NextId();
    }

    /// <summary>The fiber's id, unique in this process among fibers, scopes and collections.</summary>
    public long Id { get; }

    /// <summary>The supervising parent, for a fiber forked with <see cref="FiberContext.Fork{T}"/>; otherwise null.</summary>
    public Fiber? Parent { get; }

    /// <summary>Running, suspended in one of the runtime's waits, or done.</summary>
    /// <remarks>
    /// <see cref="FiberStatus.Suspended"/> means parked: the fiber waits in a runtime wait that is fully
    /// armed (a delay's timer exists), and it has given back the thread it started on, so every await up
    /// its call chain is registered and completing the wait resumes it on the completing thread (inline,
    /// for a delay that elapses). A fiber that has armed its first wait but is still returning from its
    /// first step reports <see cref="FiberStatus.Running"/> for those few instructions.
    /// </remarks>
    public FiberStatus Status =>
        _isDone ? FiberStatus.Done
        : _hasYielded && Volatile.Read(ref _suspendDepth) > 0 ? FiberStatus.Suspended
        : FiberStatus.Running;

    /// <summary>True once the fiber has ended and its finalizers have run.</summary>
    public bool IsDone => _isDone;

    /// <summary>True once an interruption has been requested (it may still be deferred by an uninterruptible region).</summary>
    public bool IsInterruptRequested => (Volatile.Read(ref _interruptState) & RequestedBit) != 0;

    /// <summary>True once the interruption took effect: the token is (or, once created, will be) cancelled.</summary>
    internal bool IsCancelled => (Volatile.Read(ref _interruptState) & CancelledBit) != 0;

    internal FiberRuntime Runtime => AmbientScope.Runtime;

    internal FiberScope AmbientScope { get; }

    /// <summary>The token the fiber's body observes; created on first use.</summary>
    internal CancellationToken Token
    {
        get
        {
            var cts = Volatile.Read(ref _cts);
            if (cts is null)
            {
                var created = new CancellationTokenSource();
                cts = Interlocked.CompareExchange(ref _cts, created, null) ?? created;
                // Interrupt() sets CancelledBit and then reads _cts; we publish _cts and then read
                // the bit. With both being interlocked, at least one of us sees the other.
                if ((Volatile.Read(ref _interruptState) & CancelledBit) != 0)
                {
                    CancelQuietly(cts);
                }
            }

            return cts.Token;
        }
    }

    /// <summary>Requests interruption and returns at once (fire and forget).</summary>
    /// <example><code>fiber.Interrupt(); // the fiber stops at its next cancellation point</code></example>
    public void Interrupt() => Interrupt(Interruptor.External);

    /// <summary>Requests interruption and waits until the fiber has ended and its finalizers have run.</summary>
    /// <param name="cancellationToken">Stops the wait (not the interruption).</param>
    /// <returns>The fiber's exit: interrupted, or whatever it ended with if it ended first.</returns>
    /// <example><code>Exit exit = await fiber.InterruptAsync(); // exit.IsInterrupted</code></example>
    public ValueTask<Exit> InterruptAsync(CancellationToken cancellationToken = default)
    {
        Interrupt(Interruptor.External);
        return AwaitExitAsync(cancellationToken);
    }

    /// <summary>Waits for the fiber to end; never throws for the fiber's own failure or interruption.</summary>
    /// <param name="cancellationToken">Stops the wait.</param>
    /// <example><code>Exit exit = await fiber.AwaitExitAsync();</code></example>
    public ValueTask<Exit> AwaitExitAsync(CancellationToken cancellationToken = default)
    {
        if (_observersNotified)
        {
            return new ValueTask<Exit>(GetExit());
        }

        return AwaitSlowAsync(this, cancellationToken);

        static async ValueTask<Exit> AwaitSlowAsync(Fiber fiber, CancellationToken ct)
        {
            await fiber.WhenDone().WaitAsync(ct).ConfigureAwait(false);
            return fiber.GetExit();
        }
    }

    /// <summary>The exit, when the fiber is done.</summary>
    /// <param name="exit">The exit; default while the fiber runs.</param>
    /// <returns>True when the fiber is done.</returns>
    public bool TryGetExit(out Exit exit)
    {
        if (_isDone)
        {
            exit = GetExit();
            return true;
        }

        exit = default;
        return false;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Fiber #{Id} ({Status})";

    /// <summary>Requests interruption by <paramref name="by"/>; the first interruptor is the one reported.</summary>
    internal void Interrupt(Interruptor by)
    {
        Interlocked.CompareExchange(ref _interruptorBits, by.Pack(), 0);
        var state = Volatile.Read(ref _interruptState);
        while (true)
        {
            var cancel = (state & DepthMask) == 0 && (state & CancelledBit) == 0;
            var next = state | RequestedBit | (cancel ? CancelledBit : 0);
            var seen = Interlocked.CompareExchange(ref _interruptState, next, state);
            if (seen == state)
            {
                if (cancel)
                {
                    CancelToken();
                }

                return;
            }

            state = seen;
        }
    }

    internal void EnterUninterruptible() => Interlocked.Increment(ref _interruptState);

    internal void ExitUninterruptible()
    {
        var state = Volatile.Read(ref _interruptState);
        while (true)
        {
            Debug.Assert((state & DepthMask) > 0, "ExitUninterruptible matches an EnterUninterruptible");
            var next = state - 1;
            var cancel = (next & DepthMask) == 0 && (next & RequestedBit) != 0 && (next & CancelledBit) == 0;
            if (cancel)
            {
                next |= CancelledBit;
            }

            var seen = Interlocked.CompareExchange(ref _interruptState, next, state);
            if (seen == state)
            {
                if (cancel)
                {
                    CancelToken();
                }

                return;
            }

            state = seen;
        }
    }

    internal void EnterSuspended() => Interlocked.Increment(ref _suspendDepth);

    /// <summary>Called once the body's first step has returned the thread it started on (see <see cref="Status"/>).</summary>
    private protected void MarkYielded() => _hasYielded = true;

    internal void ExitSuspended() => Interlocked.Decrement(ref _suspendDepth);

    /// <summary>Registers a child fiber's lifetime under this fiber; false once this fiber is ending.</summary>
    internal FiberList ChildList
    {
        get
        {
            var list = Volatile.Read(ref _children);
            if (list is null)
            {
                var created = new FiberList();
                list = Interlocked.CompareExchange(ref _children, created, null) ?? created;
            }

            return list;
        }
    }

    /// <summary>
    /// Calls <paramref name="observer"/> once when the fiber has ended, never before the observers
    /// added earlier. Observers run on the completing thread before awaiters are woken; one added
    /// after that runs at once, inline, or -- if the earlier ones are still running on the completing
    /// thread -- from the thread pool right after them. They must be quick and must not throw.
    /// </summary>
    internal void AddObserver(IFiberObserver observer)
    {
        var current = Volatile.Read(ref _observers);
        while (true)
        {
            if (ReferenceEquals(current, s_completed))
            {
                if (_observersNotified)
                {
                    observer.OnFiberDone(this);
                }
                else
                {
                    // Ended, but the observers taken by Complete are still being told. Running this one
                    // now would put it ahead of them (a clear or close waiting on a collection member
                    // would complete before the member left). WhenDone completes after them.
                    _ = WhenDone().ContinueWith(
                        static (_, state) =>
                        {
                            var (fiber, late) = ((Fiber, IFiberObserver))state!;
                            late.OnFiberDone(fiber);
                        },
                        (this, observer),
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default);
                }

                return;
            }

            object next = current switch
            {
                null => observer,
                IFiberObserver single => new[] { single, observer },
                IFiberObserver[] many => (IFiberObserver[])[.. many, observer],
                _ => throw new UnreachableException(),
            };
            var seen = Interlocked.CompareExchange(ref _observers, next, current);
            if (ReferenceEquals(seen, current))
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>A task that completes (never faults) when the fiber has ended and its observers have run.</summary>
    internal Task WhenDone()
    {
        if (_observersNotified)
        {
            return Task.CompletedTask;
        }

        var source = Volatile.Read(ref _doneSource);
        if (source is null)
        {
            var created = new CompletionSource();
            source = Interlocked.CompareExchange(ref _doneSource, created, null) ?? created;
            // Complete() sets _observersNotified and then reads _doneSource; we publish and then
            // read the flag: one of us completes the source.
            if (_observersNotified)
            {
                source.TrySetResult();
            }
        }

        return source.Task;
    }

    internal Exit GetExit()
    {
        Debug.Assert(_isDone, "The exit is read only once the fiber is done.");
        return RecordedExit();
    }

    /// <summary>
    /// The exit recorded by <see cref="Complete"/>: readable from the moment the fiber leaves its
    /// owner (a FiberSet reads it then), just before <see cref="IsDone"/> turns true. The interruptor
    /// is the first one recorded in <c>_interruptorBits</c>, which never changes once set.
    /// </summary>
    internal Exit RecordedExit() =>
        new(_exitKind, _failure, _exitKind == ExitKind.Interrupted ? Interruptor.Unpack(Volatile.Read(ref _interruptorBits)) : default);

    /// <summary>
    /// The single termination path: interrupt and await children, record the exit, leave the
    /// owner, wake observers and awaiters. Runs exactly once per fiber.
    /// </summary>
    private protected Task FinishAsync(ExitKind kind, Exception? failure)
    {
        var children = Interlocked.CompareExchange(ref _children, s_closedChildren, null);
        if (children is not null && !ReferenceEquals(children, s_closedChildren))
        {
            var live = children.Close();
            if (live.Length > 0)
            {
                return FinishAfterChildrenAsync(live, kind, failure);
            }
        }

        Complete(kind, failure);
        return Task.CompletedTask;
    }

    private async Task FinishAfterChildrenAsync(Fiber[] children, ExitKind kind, Exception? failure)
    {
        var by = new Interruptor(InterruptorKind.Fiber, Id);
        foreach (var child in children)
        {
            child.Interrupt(by);
        }

        await WhenAllDone(children).ConfigureAwait(false);
        Complete(kind, failure);
    }

    private void Complete(ExitKind kind, Exception? failure)
    {
        _exitKind = kind;
        _failure = failure;
        // ListOwner was written before the fiber started (the start publishes it); only Leave
        // clears it, under the owner's lock. What the owner wakes for the leave (a FiberSet's
        // empty and join waiters) is woken once the fiber is done, so they find its exit.
        var owner = Volatile.Read(ref ListOwner);
        var left = owner?.Leave(this);
        _isDone = true;
        if (left is not null)
        {
            owner!.AfterLeft(left);
        }

        var observers = Interlocked.Exchange(ref _observers, s_completed);
        switch (observers)
        {
            case IFiberObserver single:
                single.OnFiberDone(this);
                break;
            case IFiberObserver[] many:
                foreach (var observer in many)
                {
                    observer.OnFiberDone(this);
                }

                break;
        }

        _observersNotified = true;
        // WhenDone publishes its source (interlocked, a full fence) and then reads the flag; this side
        // writes the flag and then reads the source. Volatile alone lets the write be reordered after
        // the read (store-load, even on x86): both sides could miss each other and the awaiter never wakes.
        Interlocked.MemoryBarrier();
        Volatile.Read(ref _doneSource)?.TrySetResult();
    }

    /// <summary>Classifies an exception thrown by the body.</summary>
    private protected ExitKind Classify(Exception exception) =>
        exception is OperationCanceledException && IsInterruptRequested ? ExitKind.Interrupted : ExitKind.Failure;

    /// <summary>A task that completes when every fiber in <paramref name="fibers"/> is done.</summary>
    internal static Task WhenAllDone(Fiber[] fibers)
    {
        if (fibers.Length == 0)
        {
            return Task.CompletedTask;
        }

        var countdown = new CountdownObserver(fibers.Length + 1);
        foreach (var fiber in fibers)
        {
            fiber.AddObserver(countdown);
        }

        countdown.Signal();
        return countdown.Task;
    }

    /// <summary>
    /// Parks <paramref name="delay"/> in the fiber's wait slot: the interrupt completes it after the
    /// token's callbacks, without a token (or a registration on it). False when another wait holds
    /// the slot (the caller registers on the token). If the interruption has taken effect already,
    /// the delay is completed here.
    /// </summary>
    internal bool TryPark(FiberDelay delay)
    {
        if (Interlocked.CompareExchange(ref _park, delay, null) is not null)
        {
            return false;
        }

        // CancelToken sets CancelledBit and then takes the slot; we publish the slot and then read the
        // bit. Both interlocked: at least one of us sees the other, and the exchange decides who completes.
        if (IsCancelled && ReferenceEquals(Interlocked.CompareExchange(ref _park, null, delay), delay))
        {
            delay.Interrupted();
        }

        return true;
    }

    /// <summary>Frees the wait slot if <paramref name="delay"/> still holds it (it completed by itself).</summary>
    internal void Unpark(FiberDelay delay) => Interlocked.CompareExchange(ref _park, null, delay);

    private void CancelToken()
    {
        var cts = Volatile.Read(ref _cts);
        if (cts is not null)
        {
            CancelQuietly(cts);
        }

        // After the token's callbacks: a parked fiber resumes (on the pool) only once they have all run.
        Interlocked.Exchange(ref _park, null)?.Interrupted();
    }

    private static void CancelQuietly(CancellationTokenSource cts)
    {
        try
        {
            cts.Cancel();
        }
        catch (AggregateException)
        {
            // A callback registered on the fiber's token threw. The fiber's own code observes the
            // cancellation regardless; the interrupting caller must not fail because of it.
        }
    }

    private static FiberList CreateClosedList()
    {
        var list = new FiberList();
        list.Close();
        return list;
    }

    private sealed class CompletionSource() : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed class CountdownObserver(int count) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IFiberObserver
    {
        private int _remaining = count;

        public void OnFiberDone(Fiber fiber) => Signal();

        public void Signal()
        {
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                TrySetResult();
            }
        }
    }
}
