using System.Diagnostics;
using FiberManager.Core.Primitives;

namespace FiberManager.Core.Hub;

/// <summary>
/// The output side of a managed fiber: one publisher, any number of subscribers. Every published item
/// gets the next sequence number (1, 2, 3, … with no holes) and a timestamp; the hub keeps the last
/// items in a replay window for late or reconnecting subscribers, and gives each subscriber its own
/// bounded buffer so that a slow subscriber never slows the publisher or anyone else: what does not
/// fit is dropped for that subscriber only and reported to it as a gap, never skipped silently.
/// </summary>
/// <typeparam name="T">The type of the published values.</typeparam>
/// <remarks>
/// <para>
/// Publishing (<see cref="TryPublish"/>, <see cref="Publish"/>, <see cref="TryComplete(T)"/>) is
/// synchronous and never waits for subscribers. With a fixed set of subscribers whose buffers have
/// reached their working size it does not allocate. The final item, published by
/// <see cref="TryComplete(T)"/>, reaches every subscriber even through a full buffer, and is
/// remembered for anyone who subscribes later; each subscription ends after reading it.
/// </para>
/// <para>
/// An idle hub (nothing published, no subscribers) costs only its fields and its lock: the replay
/// window is allocated on the first publish and grows by doubling up to its capacity.
/// </para>
/// <para>Thread safety: every member may be called from any thread.</para>
/// <example>
/// <code>
/// var hub = new BroadcastHub&lt;string&gt;(replayCapacity: 64, subscriberBufferCapacity: 64, TimeProvider.System);
/// using HubSubscription&lt;string&gt; subscription = hub.Subscribe(afterSequence: 0);
/// hub.Publish("hello");        // sequence 1
/// hub.TryComplete("bye");      // sequence 2, the terminal item
/// await foreach (HubEntry&lt;string&gt; entry in subscription.ReadAllAsync(cancellationToken))
/// {
///     Console.WriteLine(entry.IsGap ? $"missed {entry.GapFrom}..{entry.GapTo}" : $"{entry.Sequence}: {entry.Value}");
/// }
/// </code>
/// </example>
/// </remarks>
[DebuggerDisplay("LastSequence = {_lastSequence}, Replay = {_replay.Count}/{_replayCapacity}, Subscribers = {_subscribers.Length}, Completed = {_completed}")]
internal sealed class BroadcastHub<T>
{
    // Invariants (checked by AssertInvariants at the start of every block that holds _lock):
    //  * Lock order: BroadcastHub._lock, then HubSubscription._lock (publish, subscribe and removal take a
    //    subscription's lock while holding the hub's; a subscription never takes the hub's lock while
    //    holding its own). Parked readers are woken only after both locks are released.
    //  * _lastSequence is the sequence of the newest item (0 before the first publish); it only grows, by
    //    exactly one per publish, so sequences are 1, 2, 3, … with no holes.
    //  * _replay holds at most _replayCapacity items (its array never grows beyond that), contiguous and
    //    ending at _lastSequence.
    //  * _completed means the terminal item (_terminal) was published: its sequence is _lastSequence,
    //    nothing is published after it, and it is in _replay whenever _replayCapacity > 0.
    //  * _subscribers holds exactly the subscriptions not yet disposed, and is never mutated in place
    //    (copy on write), so a publisher may walk its snapshot after releasing the lock to wake readers.
    //  * Every subscription in _subscribers is owed every sequence up to _lastSequence (delivered, or in its
    //    buffer, or in its one pending gap); see HubSubscription for its own invariants.
    private readonly Lock _lock = new();
    private readonly TimeProvider _timeProvider;
    private readonly int _replayCapacity;
    private readonly int _subscriberBufferCapacity;
    private RingBuffer<HubItem<T>> _replay;
    private HubSubscription<T>[] _subscribers = [];
    private ulong _lastSequence;
    private HubItem<T> _terminal;
    private bool _completed;
    private int _subscribersBehind;

    /// <summary>Creates an empty hub.</summary>
    /// <param name="replayCapacity">
    /// How many of the newest items are kept for subscribers that join later or resume after a
    /// reconnect (≥ 0; 0 keeps none, though the terminal item is always remembered).
    /// </param>
    /// <param name="subscriberBufferCapacity">
    /// How many items each subscriber may have waiting before further items are dropped for it and
    /// reported as a gap (≥ 1).
    /// </param>
    /// <param name="timeProvider">The clock that timestamps items and gaps.</param>
    /// <exception cref="ArgumentOutOfRangeException">A capacity is out of range.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <example>
    /// <code>
    /// var hub = new BroadcastHub&lt;FiberEvent&gt;(replayCapacity: 64, subscriberBufferCapacity: 64, timeProvider);
    /// </code>
    /// </example>
    public BroadcastHub(int replayCapacity, int subscriberBufferCapacity, TimeProvider timeProvider)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replayCapacity);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replayCapacity, Array.MaxLength - 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(subscriberBufferCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(subscriberBufferCapacity, Array.MaxLength - 1);
        ArgumentNullException.ThrowIfNull(timeProvider);

        _replayCapacity = replayCapacity;
        _subscriberBufferCapacity = subscriberBufferCapacity;
        _timeProvider = timeProvider;
    }

    /// <summary>How many of the newest items are kept for late subscribers.</summary>
    public int ReplayCapacity => _replayCapacity;

    /// <summary>How many items each subscriber may have waiting before drops start.</summary>
    public int SubscriberBufferCapacity => _subscriberBufferCapacity;

    /// <summary>The number of subscriptions not yet disposed.</summary>
    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>
    /// True while some subscriber has half its buffer waiting (or has missed events) and has not
    /// caught up since (a quarter or less waiting). Lock-free. A publisher that publishes in long
    /// runs uses it to yield its thread now and then, so that a subscriber woken on that same
    /// thread gets to run before its buffer overflows; publishing itself never waits for it.
    /// </summary>
    public bool HasSubscriberBehind => Volatile.Read(ref _subscribersBehind) > 0;

    /// <summary>A subscription fell behind (+1) or caught up (-1); called under the subscription's lock.</summary>
    internal void CountSubscriberBehind(int change) => Interlocked.Add(ref _subscribersBehind, change);

    /// <summary>The sequence of the newest item (the terminal one once completed); 0 before the first publish.</summary>
    public ulong LastSequence
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _lastSequence;
            }
        }
    }

    /// <summary>Whether the terminal item has been published.</summary>
    public bool IsCompleted => Volatile.Read(ref _completed);

    /// <summary>Publishes an item to every subscriber and the replay window.</summary>
    /// <param name="value">The value to publish.</param>
    /// <returns>The item's sequence number.</returns>
    /// <exception cref="InvalidOperationException">The hub is completed.</exception>
    /// <example>
    /// <code>
    /// ulong sequence = hub.Publish(output);
    /// </code>
    /// </example>
    public ulong Publish(T value)
    {
        if (!TryPublish(value, out ulong sequence))
        {
            throw new InvalidOperationException("The hub is completed; nothing can be published after its terminal item.");
        }

        return sequence;
    }

    /// <summary>Publishes an item unless the hub is completed. Never blocks on subscribers.</summary>
    /// <param name="value">The value to publish.</param>
    /// <param name="sequence">The item's sequence number, or 0 if the hub is completed.</param>
    /// <returns><see langword="false"/> if the hub is completed.</returns>
    /// <example>
    /// <code>
    /// if (!hub.TryPublish(output, out ulong sequence)) { /* the fiber already ended */ }
    /// </code>
    /// </example>
    public bool TryPublish(T value, out ulong sequence) => TryPublishCore(value, isTerminal: false, out sequence);

    /// <summary>
    /// Publishes the terminal item and completes the hub. Every current subscriber receives it even if
    /// its buffer is full, later subscribers receive it too, and every subscription ends after it.
    /// </summary>
    /// <param name="terminal">The final value (for a fiber, its terminated event).</param>
    /// <returns><see langword="false"/> if the hub was already completed (nothing is published then).</returns>
    /// <example>
    /// <code>
    /// hub.TryComplete(terminatedEvent);
    /// </code>
    /// </example>
    public bool TryComplete(T terminal) => TryPublishCore(terminal, isTerminal: true, out _);

    /// <summary>Publishes the terminal item and completes the hub, reporting its sequence.</summary>
    /// <param name="terminal">The final value.</param>
    /// <param name="sequence">The terminal item's sequence number, or 0 if the hub was already completed.</param>
    /// <returns><see langword="false"/> if the hub was already completed.</returns>
    /// <example>
    /// <code>
    /// if (hub.TryComplete(terminatedEvent, out ulong last)) logger.LogDebug("terminated at {Sequence}", last);
    /// </code>
    /// </example>
    public bool TryComplete(T terminal, out ulong sequence) => TryPublishCore(terminal, isTerminal: true, out sequence);

    /// <summary>
    /// Subscribes to every item with a sequence greater than <paramref name="afterSequence"/>.
    /// </summary>
    /// <param name="afterSequence">
    /// <list type="bullet">
    /// <item><description>0: everything still in the replay window, then live items; items evicted before the
    /// subscriber existed are not reported.</description></item>
    /// <item><description>N &gt; 0 (resuming after sequence N): if items N+1 onwards were already evicted from the
    /// replay window, a gap entry for them comes first, then the retained items, then live ones.</description></item>
    /// <item><description>N ≥ <see cref="LastSequence"/>: live items only (a value beyond the last sequence is
    /// treated as the last sequence).</description></item>
    /// </list>
    /// On a completed hub the same rule replays up to and including the terminal item, after which the
    /// subscription ends; if <paramref name="afterSequence"/> is at or past the terminal item, the
    /// subscription has nothing to read and has already ended.
    /// </param>
    /// <returns>A subscription; dispose it to detach.</returns>
    /// <example>
    /// <code>
    /// using var subscription = hub.Subscribe(afterSequence: request.FromSequence);
    /// </code>
    /// </example>
    public HubSubscription<T> Subscribe(ulong afterSequence = 0)
    {
        lock (_lock)
        {
            AssertInvariants();

            // What the hub still remembers: the replay window, plus the terminal item when no window keeps it.
            bool terminalOutsideReplay = _completed && _replayCapacity == 0;
            ulong oldestRemembered =
                _replay.Count != 0 ? _replay.First.Sequence
                : terminalOutsideReplay ? _terminal.Sequence
                : _lastSequence + 1;

            ulong after = Math.Min(afterSequence, _lastSequence);
            ulong firstOwed = after + 1;
            ulong gapTo = 0;
            if (afterSequence == 0)
            {
                firstOwed = oldestRemembered;
            }
            else if (firstOwed < oldestRemembered)
            {
                gapTo = oldestRemembered - 1;
            }

            int replayIndex = 0;
            int replayCount = 0;
            if (_replay.Count != 0 && firstOwed <= _lastSequence)
            {
                ulong firstReplayed = Math.Max(firstOwed, oldestRemembered);
                replayIndex = (int)(firstReplayed - oldestRemembered);
                replayCount = _replay.Count - replayIndex;
            }

            bool replayTerminal = terminalOutsideReplay && firstOwed <= _terminal.Sequence;
            var subscription = new HubSubscription<T>(
                this, _subscriberBufferCapacity, replayCount + (replayTerminal ? 1 : 0), lastAccounted: firstOwed - 1);

            if (gapTo != 0)
            {
                subscription.SetInitialGap(firstOwed, gapTo, _timeProvider.GetUtcNow().UtcTicks);
            }

            for (int i = 0; i < replayCount; i++)
            {
                ref readonly HubItem<T> item = ref _replay[replayIndex + i];
                subscription.AddReplayed(item, isTerminal: _completed && item.Sequence == _lastSequence);
            }

            if (replayTerminal)
            {
                subscription.AddReplayed(_terminal, isTerminal: true);
            }

            if (_completed && firstOwed > _lastSequence)
            {
                subscription.FinishEmpty();
            }

            HubSubscription<T>[] current = _subscribers;
            var next = new HubSubscription<T>[current.Length + 1];
            Array.Copy(current, next, current.Length);
            next[^1] = subscription;
            Volatile.Write(ref _subscribers, next);
            return subscription;
        }
    }

    /// <summary>Detaches a subscription (its <see cref="HubSubscription{T}.Dispose"/>); idempotent.</summary>
    /// <param name="subscription">The subscription to remove.</param>
    internal void Remove(HubSubscription<T> subscription)
    {
        lock (_lock)
        {
            AssertInvariants();
            HubSubscription<T>[] current = _subscribers;
            int index = Array.IndexOf(current, subscription);
            if (index >= 0)
            {
                HubSubscription<T>[] next;
                if (current.Length == 1)
                {
                    next = [];
                }
                else
                {
                    next = new HubSubscription<T>[current.Length - 1];
                    Array.Copy(current, 0, next, 0, index);
                    Array.Copy(current, index + 1, next, index, current.Length - index - 1);
                }

                Volatile.Write(ref _subscribers, next);
            }

            if (!subscription.MarkDisposed())
            {
                return;
            }
        }

        subscription.CompletePendingWake();
    }

    private bool TryPublishCore(T value, bool isTerminal, out ulong sequence)
    {
        HubSubscription<T>[] subscribers;
        bool wake = false;
        lock (_lock)
        {
            AssertInvariants();
            if (_completed)
            {
                sequence = 0;
                return false;
            }

            // Timestamped under the lock so that times never run backwards against sequences.
            var item = new HubItem<T>(_lastSequence + 1, _timeProvider.GetUtcNow().UtcTicks, value);
            _lastSequence = item.Sequence;
            if (_replayCapacity != 0)
            {
                _replay.AddLastEvicting(item, _replayCapacity);
            }

            if (isTerminal)
            {
                _terminal = item;
                Volatile.Write(ref _completed, true);
            }

            subscribers = _subscribers;
            foreach (HubSubscription<T> subscription in subscribers)
            {
                wake |= subscription.Deliver(item, isTerminal);
            }

            sequence = item.Sequence;
        }

        if (wake)
        {
            foreach (HubSubscription<T> subscription in subscribers)
            {
                subscription.CompletePendingWake();
            }
        }

        return true;
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the hub's lock.");
        Debug.Assert(_replay.Count <= _replayCapacity, "The replay window holds at most its capacity.");
        Debug.Assert(_replay.Capacity <= _replayCapacity, "The replay array never grows beyond the capacity.");
        if (_replay.Count != 0)
        {
            Debug.Assert(_replay.Last.Sequence == _lastSequence, "The replay window ends at the last sequence.");
            Debug.Assert(_replay.Last.Sequence - _replay.First.Sequence + 1 == (ulong)_replay.Count, "The replay window is contiguous.");
        }
        else
        {
            Debug.Assert(_replayCapacity == 0 || _lastSequence == 0, "A hub with a replay window keeps its newest item.");
        }

        Debug.Assert(!_completed || (_lastSequence != 0 && _terminal.Sequence == _lastSequence), "The terminal item is the last one.");
        Debug.Assert(_completed || _terminal.Sequence == 0, "No terminal item before completion.");
        Debug.Assert(_subscribers is not null, "The subscriber array is never null.");
        Debug.Assert(Volatile.Read(ref _subscribersBehind) >= 0, "Subscribers behind are never negative.");
    }
}
