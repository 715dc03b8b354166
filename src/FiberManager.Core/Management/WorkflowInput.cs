using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;

namespace FiberManager.Core.Management;

/// <summary>
/// A managed fiber's input: a bounded FIFO queue behind a pause gate. While paused it hands out
/// nothing (the item in progress finishes); once closed (the fiber ended) it hands out nothing
/// ever again, and what was left in it is counted as unprocessed.
/// </summary>
/// <remarks>
/// <para>
/// One lock guards the gate and the queue together (this used to be a <see cref="Channel{T}"/>
/// behind the gate's own lock: two locks per operation and ~700 bytes per idle fiber). The queue's
/// array is allocated on the first write and grows by doubling up to the capacity; a writer that
/// finds the queue full waits in FIFO order and its item enters the queue as soon as a read makes
/// room, as with a bounded channel in <see cref="BoundedChannelFullMode.Wait"/> mode.
/// </para>
/// <para>
/// Invariants (DEBUG-checked at the start of every locked block): a paused or closed gate hands
/// out nothing — every successful <see cref="TryRead"/> happens under the lock with the gate
/// open; readers wait only while nothing can be read (paused, or the queue is empty) and the gate
/// is not closed; writers wait only while the queue is full and not closed. Waiters are woken
/// outside the lock, and their continuations never run inline (like a channel created with
/// <c>AllowSynchronousContinuations = false</c>): a Submit never runs the workflow on its thread.
/// </para>
/// <para>
/// <see cref="WaitToReadAsync"/> may be called by several readers at once; the first parked
/// reader reuses a waiter owned by the input, so a workflow's read loop does not allocate.
/// </para>
/// </remarks>
/// <typeparam name="T">The input type.</typeparam>
/// <example><code>
/// await foreach (var item in context.Input.ReadAllAsync(context.CancellationToken))
///     context.Publish(item);
/// </code></example>
[DebuggerDisplay("Count = {Count}/{Capacity}, Paused = {IsPaused}")]
public sealed class WorkflowInput<T>
{
    private const int InitialArraySize = 4;

    private readonly Lock _lock = new();
    private T[]? _items;
    private int _head;
    private int _count;
    private bool _paused;
    private bool _closed;
    private long _handedOut;
    private ulong _enqueued;

    // Parked readers: the first in a field (a workflow has one read loop), any others in a list.
    // Writers waiting for room, FIFO. The first reader's waiter is cached and reused.
    private ReaderWaiter? _cachedReader;
    private ReaderWaiter? _reader;
    private List<ReaderWaiter>? _otherReaders;
    private LinkedList<WriterWaiter>? _writers;

    internal WorkflowInput(int capacity, bool paused)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _paused = paused;
    }

    /// <summary>Inputs waiting in the queue.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; }

    /// <summary>True while paused.</summary>
    /// <remarks>Lock-free (Submit and every status read ask it): the flag is written under the lock.</remarks>
    public bool IsPaused => Volatile.Read(ref _paused);

    /// <summary>Inputs handed to the workflow so far.</summary>
    public long HandedOut => Interlocked.Read(ref _handedOut);

    /// <summary>True while the workflow is parked waiting for input and the queue is empty.</summary>
    internal bool IsReaderIdle => Volatile.Read(ref _reader) is not null && Volatile.Read(ref _count) == 0;

    /// <summary>Takes the next input if the gate is open and one is there.</summary>
    /// <remarks>
    /// An empty queue is answered without the lock (a read loop ends every batch with one such
    /// call): <c>_count</c> is written under the lock with a volatile write, so the answer is the
    /// queue's state at that read, as if the lock had been taken just then. An input written
    /// during the call is found by the next <see cref="WaitToReadAsync"/>, which checks under the lock.
    /// </remarks>
    public bool TryRead(out T item)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            item = default!;
            return false;
        }

        WriterWaiter? admitted = null;
        lock (_lock)
        {
            AssertInvariants();
            if (_paused || _closed || _count == 0)
            {
                item = default!;
                return false;
            }

            item = DequeueLocked();
            _handedOut++;
            if (_writers is { First.Value: { } first })
            {
                // A read made room: the longest-waiting writer's item enters the queue.
                _writers.RemoveFirst();
                first.Position = EnqueueLocked(first.Item);
                admitted = first;
            }
        }

        admitted?.Admit();
        return true;
    }

    /// <summary>
    /// Waits until an input can be read (the gate is open and the queue has one). Returns false
    /// when the fiber has ended. Throws when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        ReaderWaiter waiter;
        short version;
        lock (_lock)
        {
            AssertInvariants();
            if (_closed)
            {
                return new ValueTask<bool>(false);
            }

            if (!_paused && _count > 0)
            {
                return new ValueTask<bool>(true);
            }

            // Checked again under the lock: the cached reader's registration outlives a park, and its
            // callback does nothing while the reader is not parked. A token cancelled before this
            // point is seen here; one cancelled later finds the reader parked.
            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            waiter = _cachedReader is { } cached && cached.TryRent() ? cached : RentNewReaderLocked();
            version = waiter.Park(cancellationToken);
            if (_reader is null)
            {
                Volatile.Write(ref _reader, waiter);
            }
            else
            {
                (_otherReaders ??= []).Add(waiter);
            }
        }

        waiter.RegisterCancellation(cancellationToken, version);
        return new ValueTask<bool>(waiter, version);
    }

    /// <summary>Reads the next input, waiting for one (and for Resume); throws <see cref="ChannelClosedException"/> once the fiber has ended.</summary>
    public async ValueTask<T> ReadAsync(CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryRead(out var item))
            {
                return item;
            }
        }

        throw new ChannelClosedException();
    }

    /// <summary>Every input, as it comes, until the fiber ends; pauses while paused.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var item))
            {
                yield return item;
            }
        }
    }

    /// <summary>Queues <paramref name="item"/> if there is room and the input is not closed.</summary>
    internal bool TryWrite(T item) => TryWrite(item, out _);

    /// <summary>
    /// Queues <paramref name="item"/> if there is room and the input is not closed;
    /// <paramref name="position"/> is its 1-based position among every item ever queued.
    /// </summary>
    internal bool TryWrite(T item, out ulong position)
    {
        var written = TryWrite(item, out position, out var wake);
        wake.Run();
        return written;
    }

    /// <summary>
    /// <see cref="TryWrite(T, out ulong)"/> for a caller that holds a lock of its own: the readers
    /// the write released are handed back in <paramref name="wake"/>, to be woken with
    /// <see cref="ReaderWake.Run"/> once that lock is released (waking one queues its continuation
    /// to the thread pool, which may wake a thread: not something to do while holding a lock).
    /// </summary>
    internal bool TryWrite(T item, out ulong position, out ReaderWake wake)
    {
        ReaderWaiter? first = null;
        ReaderWaiter[]? others = null;
        lock (_lock)
        {
            AssertInvariants();
            if (_closed || _count == Capacity)
            {
                position = 0;
                wake = default;
                return false;
            }

            position = EnqueueLocked(item);
            if (!_paused)
            {
                TakeReadersLocked(out first, out others);
            }
        }

        wake = new ReaderWake(first, others);
        return true;
    }

    /// <summary>
    /// Queues <paramref name="item"/>, waiting (FIFO) while the queue is full; returns its 1-based
    /// position among every item ever queued, taken when it enters the queue (a write that gave up
    /// waiting takes none). Throws <see cref="ChannelClosedException"/> if the input is or becomes
    /// closed first, and <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> is cancelled first.
    /// </summary>
    internal ValueTask<ulong> WriteAsync(T item, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ulong>(cancellationToken);
        }

        ulong position = 0;
        WriterWaiter? writer = null;
        ReaderWaiter? first = null;
        ReaderWaiter[]? others = null;
        lock (_lock)
        {
            AssertInvariants();
            if (_closed)
            {
                return ValueTask.FromException<ulong>(new ChannelClosedException());
            }

            if (_count < Capacity)
            {
                position = EnqueueLocked(item);
                if (!_paused)
                {
                    TakeReadersLocked(out first, out others);
                }
            }
            else
            {
                writer = new WriterWaiter(this, item, cancellationToken.CanBeCanceled);
                (_writers ??= new LinkedList<WriterWaiter>()).AddLast(writer.Node);
            }
        }

        if (writer is null)
        {
            WakeReaders(first, others, result: true);
            return new ValueTask<ulong>(position);
        }

        writer.RegisterCancellation(cancellationToken);
        return new ValueTask<ulong>(writer.Task);
    }

    /// <summary>Closes the gate; true when it was open.</summary>
    internal bool Pause()
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_paused)
            {
                return false;
            }

            Volatile.Write(ref _paused, true);
            return true;
        }
    }

    /// <summary>Opens the gate; true when it was closed.</summary>
    internal bool Resume()
    {
        ReaderWaiter? first = null;
        ReaderWaiter[]? others = null;
        lock (_lock)
        {
            AssertInvariants();
            if (!_paused)
            {
                return false;
            }

            Volatile.Write(ref _paused, false);
            if (!_closed && _count > 0)
            {
                TakeReadersLocked(out first, out others);
            }
        }

        WakeReaders(first, others, result: true);
        return true;
    }

    /// <summary>
    /// Ends the input for good: no write succeeds after this, nothing is handed out, and the
    /// items still queued are removed and counted.
    /// </summary>
    /// <returns>How many accepted inputs were never handed out.</returns>
    internal int Close()
    {
        ReaderWaiter? first;
        ReaderWaiter[]? others;
        LinkedList<WriterWaiter>? writers;
        CancellationTokenRegistration stickyRegistration;
        int unprocessed;
        lock (_lock)
        {
            AssertInvariants();
            _closed = true;
            unprocessed = _count;
            _items = null;
            _head = 0;
            Volatile.Write(ref _count, 0);
            TakeReadersLocked(out first, out others);
            writers = _writers;
            _writers = null;
            stickyRegistration = _cachedReader?.TakeStickyRegistrationLocked() ?? default;
        }

        stickyRegistration.Unregister();
        WakeReaders(first, others, result: false);
        if (writers is not null)
        {
            foreach (var writer in writers)
            {
                writer.Reject(new ChannelClosedException());
            }
        }

        return unprocessed;
    }

    /// <summary>Queues one item; returns its 1-based position among every item ever queued.</summary>
    private ulong EnqueueLocked(T item)
    {
        Debug.Assert(_count < Capacity, "Enqueue only with room.");
        if (_items is null || _count == _items.Length)
        {
            Grow();
        }

        var slot = _head + _count;
        _items![slot >= _items.Length ? slot - _items.Length : slot] = item;
        Volatile.Write(ref _count, _count + 1);
        return ++_enqueued;
    }

    private T DequeueLocked()
    {
        var items = _items!;
        var item = items[_head];
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            items[_head] = default!;
        }

        _head = _head + 1 == items.Length ? 0 : _head + 1;
        Volatile.Write(ref _count, _count - 1);
        return item;
    }

    private void Grow()
    {
        var size = _items is null ? Math.Min(InitialArraySize, Capacity) : (int)Math.Min((long)_items.Length * 2, Capacity);
        var items = new T[size];
        if (_count > 0)
        {
            var old = _items!;
            var firstPart = Math.Min(_count, old.Length - _head);
            Array.Copy(old, _head, items, 0, firstPart);
            Array.Copy(old, 0, items, firstPart, _count - firstPart);
        }

        _items = items;
        _head = 0;
    }

    private ReaderWaiter RentNewReaderLocked()
    {
        var waiter = new ReaderWaiter(this, isCached: _cachedReader is null);
        waiter.TryRent();
        _cachedReader ??= waiter;
        return waiter;
    }

    private void TakeReadersLocked(out ReaderWaiter? first, out ReaderWaiter[]? others)
    {
        first = _reader;
        Volatile.Write(ref _reader, null);
        others = null;
        if (_otherReaders is { Count: > 0 } more)
        {
            others = [.. more];
            more.Clear();
        }
    }

    private static void WakeReaders(ReaderWaiter? first, ReaderWaiter[]? others, bool result)
    {
        first?.Wake(result);
        if (others is not null)
        {
            foreach (var reader in others)
            {
                reader.Wake(result);
            }
        }
    }

    /// <summary>True while <paramref name="waiter"/> is parked (called under the lock).</summary>
    private bool IsParkedLocked(ReaderWaiter waiter) =>
        ReferenceEquals(_reader, waiter) || (_otherReaders is { } more && more.Contains(waiter));

    /// <summary>Removes a parked reader whose token was cancelled; false when someone already woke it.</summary>
    private bool TryRemoveReader(ReaderWaiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (!waiter.IsParkedWith(token))
            {
                return false; // a registration kept from an earlier park, on another token
            }

            if (ReferenceEquals(_reader, waiter))
            {
                ReaderWaiter? next = null;
                if (_otherReaders is { Count: > 0 } more)
                {
                    next = more[0];
                    more.RemoveAt(0);
                }

                Volatile.Write(ref _reader, next);
                return true;
            }

            return _otherReaders is { } others && others.Remove(waiter);
        }
    }

    /// <summary>Removes a waiting writer whose token was cancelled; false when its item was admitted or rejected already.</summary>
    private bool TryRemoveWriter(WriterWaiter writer)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (writer.Node.List is null)
            {
                return false;
            }

            _writers!.Remove(writer.Node);
            return true;
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the input's lock.");
        Debug.Assert(_count >= 0 && _count <= Capacity, "The queue holds at most its capacity.");
        Debug.Assert(_reader is not null || _otherReaders is not { Count: > 0 }, "Other readers park only behind a first one.");
        Debug.Assert(_reader is null || (!_closed && (_paused || _count == 0)), "Readers wait only while nothing can be read.");
        Debug.Assert(_writers is null || _writers.Count == 0 || (!_closed && _count == Capacity), "Writers wait only while the queue is full.");
        Debug.Assert(!_closed || _count == 0, "A closed gate holds no inputs.");
    }

    /// <summary>Readers taken off the input by a write, to be woken by the writer once it holds no lock.</summary>
    internal readonly struct ReaderWake
    {
        private readonly ReaderWaiter? _first;
        private readonly ReaderWaiter[]? _others;

        internal ReaderWake(ReaderWaiter? first, ReaderWaiter[]? others)
        {
            _first = first;
            _others = others;
        }

        /// <summary>Wakes the readers (each with true); call it once, holding no lock.</summary>
        public void Run() => WakeReaders(_first, _others, result: true);
    }

    /// <summary>
    /// A parked <see cref="WaitToReadAsync"/>. Rented from <see cref="Park"/> until the awaiter
    /// takes its result; completed exactly once per park by whoever removed it from the reader
    /// list (a writer, Resume, Close, or its token's cancellation).
    /// </summary>
    /// <remarks>
    /// The input's cached reader (the workflow's read loop) keeps its cancellation registration
    /// from one park to the next while it is asked to wait with the same token, and drops it only
    /// when the token changes or the input closes: a workflow parks once per batch of inputs, and
    /// registering on the fiber's token and unregistering again each time cost two locks and the
    /// token source's own bookkeeping per park. Its callback completes the waiter only while it is
    /// parked with that token (checked under the input's lock), and
    /// <see cref="WorkflowInput{T}.WaitToReadAsync"/> checks the token under the same lock before
    /// parking, so a cancellation between two parks is never missed. Other readers register per park.
    /// </remarks>
    internal sealed class ReaderWaiter(WorkflowInput<T> owner, bool isCached) : IValueTaskSource<bool>
    {
        private static readonly Action<object?, CancellationToken> s_cancelled =
            static (state, token) => ((ReaderWaiter)state!).Cancel(token);

        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private CancellationTokenRegistration _registration;
        private CancellationToken _registeredToken;
        private CancellationToken _parkedToken;
        private int _rented;
        private int _parkedVersion = -1;

        public bool TryRent() => Interlocked.CompareExchange(ref _rented, 1, 0) == 0;

        /// <summary>Called under the owner's lock.</summary>
        public short Park(CancellationToken token)
        {
            _core.Reset();
            _parkedToken = token;
            if (!isCached)
            {
                _registration = default;
            }

            Volatile.Write(ref _parkedVersion, _core.Version);
            return _core.Version;
        }

        public void RegisterCancellation(CancellationToken token, short version)
        {
            if (!token.CanBeCanceled)
            {
                return;
            }

            if (isCached && _registeredToken == token)
            {
                return; // registered on this token at an earlier park (only the reader and Close write it)
            }

            // Registered outside the lock: a token cancelled right now runs Cancel inline, which
            // finds the waiter parked and completes it.
            var registration = token.UnsafeRegister(s_cancelled, this);
            CancellationTokenRegistration drop;
            lock (owner._lock)
            {
                if (isCached)
                {
                    // Kept across parks until the token changes or the input closes.
                    if (owner._closed)
                    {
                        drop = registration;
                    }
                    else
                    {
                        drop = _registration;
                        _registration = registration;
                        _registeredToken = token;
                    }
                }
                else if (Volatile.Read(ref _parkedVersion) == version && owner.IsParkedLocked(this))
                {
                    // Kept only while the same park is pending; whoever completes the waiter unregisters it.
                    _registration = registration;
                    return;
                }
                else
                {
                    drop = registration;
                }
            }

            drop.Unregister();
        }

        /// <summary>The cached reader's registration, taken when the input closes (under the owner's lock).</summary>
        public CancellationTokenRegistration TakeStickyRegistrationLocked()
        {
            Debug.Assert(isCached, "Only the cached reader keeps its registration across parks.");
            var registration = _registration;
            _registration = default;
            _registeredToken = default;
            return registration;
        }

        public void Wake(bool result)
        {
            if (!isCached)
            {
                TakeRegistration().Unregister();
            }

            Volatile.Write(ref _parkedVersion, -1);
            _core.SetResult(result);
        }

        public bool GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                Volatile.Write(ref _rented, 0); // the awaiter is done with it: it may park again
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private CancellationTokenRegistration TakeRegistration()
        {
            lock (owner._lock)
            {
                var registration = _registration;
                _registration = default;
                return registration;
            }
        }

        private void Cancel(CancellationToken token)
        {
            if (!owner.TryRemoveReader(this, token))
            {
                return;
            }

            if (!isCached)
            {
                lock (owner._lock)
                {
                    _registration = default;
                }
            }

            Volatile.Write(ref _parkedVersion, -1);
            _core.SetException(new OperationCanceledException(token));
        }

        /// <summary>Whether this waiter is parked with <paramref name="token"/> (called under the owner's lock).</summary>
        public bool IsParkedWith(CancellationToken token) => _parkedToken == token;
    }

    /// <summary>A <see cref="WriteAsync"/> waiting for room; its task completes with the item's position when it is queued.</summary>
    private sealed class WriterWaiter : TaskCompletionSource<ulong>
    {
        private static readonly Action<object?, CancellationToken> s_cancelled =
            static (state, token) => ((WriterWaiter)state!).Cancel(token);

        private readonly WorkflowInput<T> _owner;
        private readonly bool _cancellable;
        private CancellationTokenRegistration _registration;

        public WriterWaiter(WorkflowInput<T> owner, T item, bool cancellable)
            : base(TaskCreationOptions.RunContinuationsAsynchronously)
        {
            _owner = owner;
            _cancellable = cancellable;
            Item = item;
            Node = new LinkedListNode<WriterWaiter>(this);
        }

        public T Item { get; }

        public LinkedListNode<WriterWaiter> Node { get; }

        /// <summary>The item's position, set under the owner's lock when it enters the queue.</summary>
        public ulong Position { get; set; }

        public void RegisterCancellation(CancellationToken token)
        {
            if (!token.CanBeCanceled)
            {
                return;
            }

            var registration = token.UnsafeRegister(s_cancelled, this);
            lock (_owner._lock)
            {
                if (Node.List is not null)
                {
                    _registration = registration;
                    return;
                }
            }

            registration.Unregister();
        }

        public void Admit()
        {
            TakeRegistration().Unregister();
            TrySetResult(Position);
        }

        public void Reject(Exception exception)
        {
            TakeRegistration().Unregister();
            TrySetException(exception);
        }

        private CancellationTokenRegistration TakeRegistration()
        {
            if (!_cancellable)
            {
                return default; // nothing was registered: no lock to take when admitted
            }

            lock (_owner._lock)
            {
                var registration = _registration;
                _registration = default;
                return registration;
            }
        }

        private void Cancel(CancellationToken token)
        {
            if (_owner.TryRemoveWriter(this))
            {
                TrySetCanceled(token);
            }
        }
    }
}
