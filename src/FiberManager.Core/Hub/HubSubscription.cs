using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using FiberManager.Core.Primitives;

namespace FiberManager.Core.Hub;

/// <summary>
/// One subscriber's view of a <see cref="BroadcastHub{T}"/>: a bounded buffer the hub fills as it
/// publishes, read like a single-reader channel. Created by <see cref="BroadcastHub{T}.Subscribe"/>;
/// dispose it to detach from the hub.
/// </summary>
/// <typeparam name="T">The type of the published values.</typeparam>
/// <remarks>
/// <para>
/// What a subscription reads, items and gaps together, covers every sequence from where it started to
/// the hub's terminal item exactly once and in order: when its buffer is full the hub drops the item
/// for this subscriber only and the subscriber later reads one gap entry for the whole missed range,
/// placed exactly where the missed items would have been.
/// </para>
/// <para>
/// <see cref="TryRead"/> may be called from any thread. <see cref="WaitToReadAsync"/> (and so
/// <see cref="ReadAllAsync"/>) supports one waiter at a time, like a single-reader channel; its
/// <see cref="ValueTask{TResult}"/> must be awaited once and only once, and a second concurrent call
/// throws <see cref="InvalidOperationException"/>. The waiter is a reused value-task source, so waiting
/// does not allocate.
/// </para>
/// <example>
/// <code>
/// using HubSubscription&lt;string&gt; subscription = hub.Subscribe(afterSequence: lastSeen);
/// await foreach (HubEntry&lt;string&gt; entry in subscription.ReadAllAsync(cancellationToken))
/// {
///     lastSeen = entry.Sequence;   // a gap's Sequence is its last missed sequence
/// }
/// </code>
/// </example>
/// </remarks>
[DebuggerDisplay("Buffered = {_ring.Count}, Gap = {_gapFrom}..{_gapTo}, LastAccounted = {_lastAccounted}, Waiter = {_waiterState}, Finished = {_finished}, Disposed = {_disposed}")]
internal sealed class HubSubscription<T> : IDisposable, IValueTaskSource<bool>, IThreadPoolWorkItem
{
    // Invariants (checked by AssertInvariants at the start of every block that holds _lock):
    //  * Lock order: BroadcastHub._lock, then HubSubscription._lock; a subscription never takes the hub's
    //    lock while holding its own. Readers and cancellation callbacks take only this lock.
    //  * Everything this subscriber is owed, up to _lastAccounted, is either already read, in _ring, or in
    //    the one pending gap [_gapFrom, _gapTo] (0..0 = no gap). _ring is in sequence order and, together
    //    with the gap, contiguous: items before the gap are < _gapFrom, items after it are > _gapTo.
    //  * At most one gap is pending: a drop while a gap is pending extends it to the dropped sequence,
    //    first turning any items buffered after the gap into part of it, so the range stays contiguous.
    //  * _ring.Count <= _ringLimit = max(buffer capacity, initial replay) + 1; live items are only
    //    buffered while Count < _bufferCapacity, so the extra slot is only ever used by the terminal item.
    //  * _terminalSequence != 0 means the terminal item has been accounted for; it is _lastAccounted.
    //  * _finished: nothing more will ever be readable (terminal read, disposed, or nothing owed on a
    //    completed hub); then the ring and gap are empty.
    //  * A waiter is Parked only while nothing is readable and the subscription is not finished. Whoever
    //    moves it out of Parked completes it exactly once, after releasing every lock: a cancellation
    //    completes it itself; Deliver and MarkDisposed (both under the hub's lock, so never both for one
    //    park) hand it over through _wakeDue, with its registration in _wakeRegistration, and
    //    CompletePendingWake claims it with one interlocked exchange (no lock).
    private static readonly Action<object?, CancellationToken> s_cancelWaiter =
        static (state, token) => ((HubSubscription<T>)state!).CancelWaiter(token);

    private readonly Lock _lock = new();
    private readonly BroadcastHub<T> _hub;
    private readonly int _bufferCapacity;
    private readonly int _ringLimit;
    private readonly int _behindAt;
    private readonly int _caughtUpAt;
    private RingBuffer<HubItem<T>> _ring;
    private ulong _gapFrom;
    private ulong _gapTo;
    private long _gapUtcTicks;
    private ulong _lastAccounted;
    private ulong _terminalSequence;
    private bool _finished;
    private bool _disposed;
    private bool _behind;

    private ManualResetValueTaskSourceCore<bool> _waiter;
    private WaiterState _waiterState;
    private CancellationToken _waiterToken;
    private CancellationTokenRegistration _waiterRegistration;
    private CancellationTokenRegistration _wakeRegistration;
    private int _wakeDue;

    /// <summary>Creates a subscription; only <see cref="BroadcastHub{T}"/> does this, under its lock.</summary>
    /// <param name="hub">The hub this subscription belongs to.</param>
    /// <param name="bufferCapacity">The most live items buffered before drops start (≥ 1).</param>
    /// <param name="replayCount">How many items <see cref="AddReplayed"/> will add.</param>
    /// <param name="lastAccounted">
    /// The sequence just before the first one owed to this subscriber; the gap and replayed items added
    /// next advance it to the hub's last sequence.
    /// </param>
    internal HubSubscription(BroadcastHub<T> hub, int bufferCapacity, int replayCount, ulong lastAccounted)
    {
        _hub = hub;
        _bufferCapacity = bufferCapacity;
        _ringLimit = Math.Max(bufferCapacity, replayCount) + 1;
        _behindAt = Math.Max(1, bufferCapacity / 2);
        _caughtUpAt = bufferCapacity / 4;
        _lastAccounted = lastAccounted;
        _waiter.RunContinuationsAsynchronously = true;
    }

    private enum WaiterState : byte
    {
        /// <summary>No WaitToReadAsync in progress.</summary>
        None,

        /// <summary>A reader is waiting; the value-task source is not completed.</summary>
        Parked,
    }

    /// <summary>The number of entries (items and at most one gap) that can be read without waiting.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _ring.Count + (_gapFrom != 0 ? 1 : 0);
            }
        }
    }

    /// <summary>
    /// Whether nothing more will ever be read: the terminal item has been read, the subscription was
    /// disposed, or it was opened on a completed hub after its terminal item.
    /// </summary>
    public bool IsFinished
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _finished;
            }
        }
    }

    /// <summary>Reads the next entry, if one is available, without waiting.</summary>
    /// <param name="entry">The entry read: a pending gap comes before every item published after it.</param>
    /// <returns><see langword="true"/> if an entry was read.</returns>
    /// <example>
    /// <code>
    /// while (subscription.TryRead(out var entry)) Handle(entry);
    /// </code>
    /// </example>
    public bool TryRead(out HubEntry<T> entry)
    {
        // Nothing buffered and no gap: answered without the lock (a reader ends every batch with
        // this call). Both fields are written under the lock; an entry delivered during the call is
        // found by the next WaitToReadAsync, which checks under the lock before parking.
        if (Volatile.Read(ref _gapFrom) == 0 && _ring.VolatileCount == 0)
        {
            entry = default;
            return false;
        }

        lock (_lock)
        {
            AssertInvariants();
            if (_gapFrom != 0 && (_ring.Count == 0 || _ring.First.Sequence > _gapTo))
            {
                entry = HubEntry<T>.ForGap(_gapFrom, _gapTo, _gapUtcTicks);
                _gapFrom = 0;
                _gapTo = 0;
                _gapUtcTicks = 0;
                UpdateBehindLocked();
                return true;
            }

            if (_ring.Count != 0)
            {
                HubItem<T> item = _ring.RemoveFirst();
                bool isTerminal = item.Sequence == _terminalSequence;
                if (isTerminal)
                {
                    _finished = true;
                    _ring.Release();
                }

                UpdateBehindLocked();
                entry = HubEntry<T>.ForItem(item, isTerminal);
                return true;
            }
        }

        entry = default;
        return false;
    }

    /// <summary>Waits until an entry can be read or the subscription has ended.</summary>
    /// <param name="cancellationToken">Cancels the wait (the subscription stays usable).</param>
    /// <returns>
    /// <see langword="true"/> when an entry can be read; <see langword="false"/> once the terminal item has
    /// been read or the subscription is disposed.
    /// </returns>
    /// <exception cref="InvalidOperationException">Another wait on this subscription is in progress.</exception>
    /// <example>
    /// <code>
    /// while (await subscription.WaitToReadAsync(ct))
    ///     while (subscription.TryRead(out var entry)) Handle(entry);
    /// </code>
    /// </example>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        short version;
        lock (_lock)
        {
            AssertInvariants();
            if (_ring.Count != 0 || _gapFrom != 0)
            {
                return new ValueTask<bool>(true);
            }

            if (_finished)
            {
                return new ValueTask<bool>(false);
            }

            if (_waiterState != WaiterState.None)
            {
                throw new InvalidOperationException(
                    "Another WaitToReadAsync is already in progress on this subscription; it supports one reader at a time.");
            }

            _waiter.Reset();
            _waiterState = WaiterState.Parked;
            _waiterToken = cancellationToken;
            version = _waiter.Version;
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Registered outside the lock: if the token is cancelled right now the callback runs inline and
            // completes the waiter itself. Whoever later completes the waiter unregisters it.
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(s_cancelWaiter, this);
            lock (_lock)
            {
                AssertInvariants();
                if (_waiterState == WaiterState.Parked && _waiter.Version == version)
                {
                    _waiterRegistration = registration;
                    registration = default;
                }
            }

            registration.Unregister();
        }

        return new ValueTask<bool>(this, version);
    }

    /// <summary>
    /// Reads every entry as it becomes available, ending after the terminal item (or when the
    /// subscription is disposed).
    /// </summary>
    /// <param name="cancellationToken">Cancels the enumeration with an <see cref="OperationCanceledException"/>.</param>
    /// <returns>The entries, items and gaps, in sequence order.</returns>
    /// <example>
    /// <code>
    /// await foreach (var entry in subscription.ReadAllAsync(ct)) Handle(entry);
    /// </code>
    /// </example>
    public async IAsyncEnumerable<HubEntry<T>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out HubEntry<T> entry))
            {
                yield return entry;
                if (entry.IsTerminal)
                {
                    yield break;
                }
            }
        }
    }

    /// <summary>
    /// Detaches from the hub: nothing more is delivered, buffered entries are discarded and a pending
    /// <see cref="WaitToReadAsync"/> returns <see langword="false"/>. Idempotent.
    /// </summary>
    public void Dispose() => _hub.Remove(this);

    /// <inheritdoc/>
    bool IValueTaskSource<bool>.GetResult(short token) => _waiter.GetResult(token);

    /// <inheritdoc/>
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    /// <inheritdoc/>
    void IValueTaskSource<bool>.OnCompleted(
        Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);

    /// <summary>
    /// Adds one replayed item, or the gap before them, while the hub builds this subscription under its
    /// lock (before anyone else can see it).
    /// </summary>
    /// <param name="item">The replayed item; its sequence follows what is already accounted for.</param>
    /// <param name="isTerminal">Whether it is the hub's terminal item.</param>
    internal void AddReplayed(in HubItem<T> item, bool isTerminal)
    {
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(item.Sequence == _lastAccounted + 1, "Replayed items follow what is already accounted for.");
            _lastAccounted = item.Sequence;
            _ring.AddLast(item, _ringLimit);
            if (isTerminal)
            {
                _terminalSequence = item.Sequence;
            }
        }
    }

    /// <summary>Records the gap for items evicted from the replay window before this subscription existed.</summary>
    /// <param name="from">The first evicted sequence owed to this subscriber.</param>
    /// <param name="to">The last evicted sequence.</param>
    /// <param name="detectedUtcTicks">The subscribe time, in UTC ticks.</param>
    internal void SetInitialGap(ulong from, ulong to, long detectedUtcTicks)
    {
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(_ring.Count == 0 && _gapFrom == 0, "The initial gap comes before every replayed item.");
            Debug.Assert(from == _lastAccounted + 1 && from <= to, "The initial gap starts right after what is accounted for.");
            _lastAccounted = to;
            _gapFrom = from;
            _gapTo = to;
            _gapUtcTicks = detectedUtcTicks;
        }
    }

    /// <summary>Marks a subscription that is owed nothing (opened after the terminal item of a completed hub).</summary>
    internal void FinishEmpty()
    {
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(_ring.Count == 0 && _gapFrom == 0, "Only an empty subscription can finish at once.");
            _finished = true;
        }
    }

    /// <summary>
    /// Called by the hub, under the hub's lock, for every published item: buffers it, or drops it into
    /// the pending gap when the buffer is full (the terminal item is always buffered).
    /// </summary>
    /// <param name="item">The published item; its sequence is the next one this subscriber is owed.</param>
    /// <param name="isTerminal">Whether it is the hub's terminal item.</param>
    /// <returns><see langword="true"/> if a parked waiter must be woken with <see cref="CompletePendingWake"/>.</returns>
    internal bool Deliver(in HubItem<T> item, bool isTerminal)
    {
        lock (_lock)
        {
            AssertInvariants();
            Debug.Assert(!_disposed, "The hub removes a subscription before disposing it.");
            Debug.Assert(item.Sequence == _lastAccounted + 1, "Publishes reach a subscriber in sequence order, without holes.");
            _lastAccounted = item.Sequence;

            if (isTerminal || _ring.Count < _bufferCapacity)
            {
                _ring.AddLast(item, _ringLimit);
                if (isTerminal)
                {
                    _terminalSequence = item.Sequence;
                }
            }
            else if (_gapFrom == 0)
            {
                _gapFrom = item.Sequence;
                _gapTo = item.Sequence;
                _gapUtcTicks = item.UtcTicks;
            }
            else
            {
                // One gap at most: items buffered after the pending gap become part of it, so that the
                // gap extended to this sequence is still one contiguous range.
                while (_ring.Count != 0 && _ring.Last.Sequence > _gapTo)
                {
                    _ring.RemoveLast();
                }

                Debug.Assert(item.Sequence > _gapTo, "Sequences only grow.");
                _gapTo = item.Sequence;
            }

            UpdateBehindLocked();
            return _waiterState == WaiterState.Parked && HandOverWakeLocked();
        }
    }

    /// <summary>
    /// Called by the hub, under the hub's lock, when this subscription is removed: ends it and hands any
    /// parked waiter to <see cref="CompletePendingWake"/>.
    /// </summary>
    /// <returns><see langword="false"/> if it was already disposed.</returns>
    internal bool MarkDisposed()
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_disposed)
            {
                return false;
            }

            _disposed = true;
            _finished = true;
            _ring.Release();
            _gapFrom = 0;
            _gapTo = 0;
            _gapUtcTicks = 0;
            UpdateBehindLocked();
            if (_waiterState == WaiterState.Parked)
            {
                HandOverWakeLocked();
            }

            return true;
        }
    }

    /// <summary>
    /// Completes a waiter that <see cref="Deliver"/> or <see cref="MarkDisposed"/> took out of the parked
    /// state; the caller must hold no lock. Does nothing if there is no such waiter (or another thread
    /// completed it already).
    /// </summary>
    internal void CompletePendingWake()
    {
        // Unlocked pre-check: the thread that set _wakeDue sees its own write; the exchange decides.
        if (Volatile.Read(ref _wakeDue) == 0 || Interlocked.Exchange(ref _wakeDue, 0) == 0)
        {
            return;
        }

        // Written before _wakeDue under the lock, and nobody else touches it until the waiter parks again,
        // which it cannot do before this completion.
        CancellationTokenRegistration registration = _wakeRegistration;
        _wakeRegistration = default;
        registration.Unregister();

        // Completed from the thread pool's global queue, not inline: completing it here would queue
        // the reader's continuation on this thread's own queue, behind whatever this thread does
        // next. A publisher that goes on publishing (a workflow's read loop taking input after
        // input, or a Submit loop that keeps finding room) would keep it there, and another thread
        // takes work from that queue only once it has nothing else to do: the subscriber, woken
        // but never scheduled, overflows although it keeps up on average (W3 lost outputs so).
        // From the global queue, any thread runs it in turn, and a read loop that yields (see
        // WorkflowInput's pacing) queues itself behind it.
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>The wake <see cref="CompletePendingWake"/> queued: the waiter was handed over, so nothing else completes it.</summary>
    void IThreadPoolWorkItem.Execute() => _waiter.SetResult(!Volatile.Read(ref _finished));

    /// <summary>
    /// Tells the hub when this subscriber falls behind (half its buffer waits, or it has missed
    /// events) and when it has caught up again (a quarter or less waits, no gap): the hub's
    /// publisher may then let it run (see <see cref="BroadcastHub{T}.HasSubscriberBehind"/>). Under the lock.
    /// </summary>
    private void UpdateBehindLocked()
    {
        bool behind = !_finished && (_gapFrom != 0 || _ring.Count >= (_behind ? _caughtUpAt + 1 : _behindAt));
        if (behind != _behind)
        {
            _behind = behind;
            _hub.CountSubscriberBehind(behind ? 1 : -1);
        }
    }

    /// <summary>Takes the parked waiter out of Parked for <see cref="CompletePendingWake"/>; under the lock.</summary>
    /// <returns>Always <see langword="true"/>: a waiter must be woken.</returns>
    private bool HandOverWakeLocked()
    {
        Debug.Assert(_waiterState == WaiterState.Parked && _wakeDue == 0, "Only a parked waiter is handed over, once per park.");
        _waiterState = WaiterState.None;
        _waiterToken = default;
        _wakeRegistration = _waiterRegistration;
        _waiterRegistration = default;
        Volatile.Write(ref _wakeDue, 1);
        return true;
    }

    private void CancelWaiter(CancellationToken token)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_waiterState != WaiterState.Parked || _waiterToken != token)
            {
                return;
            }

            _waiterState = WaiterState.None;
            _waiterToken = default;
            _waiterRegistration = default;
        }

        _waiter.SetException(new OperationCanceledException(token));
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the subscription's lock.");
        Debug.Assert(_ring.Count <= _ringLimit, "The ring never exceeds its limit.");
        Debug.Assert(_ring.Capacity <= _ringLimit, "The ring's array never exceeds its limit.");
        Debug.Assert(_terminalSequence != 0 || _ring.Count < _ringLimit, "Only the terminal item uses the extra slot.");
        Debug.Assert((_gapFrom == 0) == (_gapTo == 0) && _gapFrom <= _gapTo, "A gap is empty or a valid range.");
        Debug.Assert(_terminalSequence == 0 || _terminalSequence == _lastAccounted, "Nothing is accounted after the terminal item.");

        if (_ring.Count != 0)
        {
            ulong first = _ring.First.Sequence;
            ulong last = _ring.Last.Sequence;
            bool gapInside = _gapFrom != 0 && first < _gapFrom && last > _gapTo;
            ulong span = (ulong)_ring.Count + (gapInside ? _gapTo - _gapFrom + 1 : 0);
            Debug.Assert(last - first + 1 == span, "Buffered items and the gap are contiguous.");
            Debug.Assert(_gapFrom == 0 || first < _gapFrom || first > _gapTo, "No item lies inside the gap.");
            Debug.Assert(last == _lastAccounted || (_gapFrom != 0 && _gapTo == _lastAccounted && last < _gapFrom), "The newest item or the gap ends at the last accounted sequence.");
        }
        else if (_gapFrom != 0)
        {
            Debug.Assert(_gapTo == _lastAccounted, "A gap with nothing after it ends at the last accounted sequence.");
        }

        Debug.Assert(!_finished || (_ring.Count == 0 && _gapFrom == 0), "A finished subscription holds nothing.");
        Debug.Assert(!_behind || !_finished, "A finished subscription is never behind.");
        Debug.Assert(!_disposed || _finished, "A disposed subscription is finished.");
        Debug.Assert(_waiterState != WaiterState.Parked || (_ring.Count == 0 && _gapFrom == 0 && !_finished), "A reader only parks when there is nothing to read.");
        Debug.Assert(_waiterState != WaiterState.None || _waiterRegistration == default, "Only a waiter not yet completed holds a cancellation registration.");
    }
}
