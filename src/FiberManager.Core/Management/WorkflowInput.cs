using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace FiberManager.Core.Management;

/// <summary>
/// A managed fiber's input, as its workflow reads it: a bounded <see cref="Channel{T}"/> of
/// <see cref="InputItem{T}"/> with a pause gate in front of the reader. While paused it hands out
/// nothing (the item in progress finishes); once the fiber is interrupted it accepts nothing more,
/// and once the fiber has ended it hands out nothing ever again and what was left is counted as
/// unprocessed.
/// </summary>
/// <typeparam name="T">The input type.</typeparam>
/// <remarks>
/// <para>
/// The queue, its waiting writers and its parked readers are the channel's
/// (<see cref="Channel.CreateBounded{T}(BoundedChannelOptions)"/>, <see cref="BoundedChannelFullMode.Wait"/>);
/// this type adds only what a channel does not do: the pause gate, per-fiber sequence numbers
/// (taken when an input enters the queue, so only accepted inputs use one: 1, 2, 3, … without
/// holes), submit-id de-duplication, Submits that wait for room in arrival order, and the count of
/// what was never handed out. The channel's item-dropped callback does not apply: in
/// <see cref="BoundedChannelFullMode.Wait"/> mode a channel drops nothing, and what the fiber
/// leaves behind is drained and counted by <see cref="Close"/>.
/// </para>
/// <para>
/// One engine in one file: the gate, the write side and the pacing share two locks and the
/// invariants below, which are easier to check in one place than across files.
/// </para>
/// <para>
/// Two locks, so that a Submit and the workflow's read never wait for each other on this type
/// (only, briefly, on the channel's own lock, as any channel writer and reader do): <c>_writeLock</c>
/// orders the writers (sequence numbers, de-duplication, the waiting Submits' turns) and
/// <c>_gateLock</c> orders the readers against the gate. Pause, Resume and the closes take both
/// (write lock first), so a Submit sees the gate exactly as a read does. Lock order: the fiber's
/// lock, then <c>_writeLock</c>, then <c>_gateLock</c>, then the channel's.
/// </para>
/// <para>
/// Invariants (DEBUG-checked at the start of every block that holds either lock): every input
/// enters the channel under the write lock, with the next sequence number; a paused or closed gate
/// hands out nothing (<see cref="TryReadItem"/> reads from the channel only under the gate lock,
/// with the gate open); nothing is handed out that was not accepted; a reader waits on the gate
/// only while it is paused and the input is open; a Submit waits for room only while another one
/// waits before it or the queue is full. Readers parked on the gate are woken outside the locks;
/// the channel wakes its own waiters outside its lock and never inline
/// (<see cref="ChannelOptions.AllowSynchronousContinuations"/> is off).
/// </para>
/// <para>
/// Pacing: a read loop that keeps finding inputs runs on one thread-pool thread for as long as
/// Submits keep up, while a subscriber its outputs woke waits behind it in that thread's queue;
/// a subscriber that keeps up on average then misses events when one such run outgrows its
/// buffer (W3's runs are a full queue plus the Submit it admits: 65 outputs into a buffer of 64).
/// So once the loop has taken <c>turnLimit</c> inputs since it last yielded, and the fiber's pacing
/// says a subscriber has fallen behind (<see cref="IReadPacing"/>), <see cref="TryReadItem"/>
/// answers false once and the next <see cref="WaitToReadAsync"/> yields the thread (it completes
/// asynchronously, with true, from the thread pool's global queue, behind the subscriber's wake):
/// the subscriber runs, then the loop goes on. Between two yields the loop hands out at most
/// <c>turnLimit</c> inputs (half a subscriber's buffer), waits between them included, so a
/// subscriber that gets to run once in that time never overflows on a one-output-per-input
/// workflow. Nothing waits for the subscriber, and a loop whose subscribers keep up never yields.
/// </para>
/// </remarks>
/// <example><code>
/// await foreach (var item in context.Input.ReadAllAsync(context.CancellationToken))
///     context.Publish(item);
/// </code></example>
[DebuggerDisplay("Count = {Count}/{Capacity}, Paused = {IsPaused}, State = {_state}")]
public sealed class WorkflowInput<T>
{
    private readonly Lock _writeLock = new();
    private readonly Lock _gateLock = new();
    private readonly Channel<QueuedInput> _channel;
    private readonly int _turnLimit;
    private readonly IReadPacing? _pacing;
    private readonly int _submitIdCapacity;
    private CancellationToken _fiberToken;
    private volatile InputState _state;
    private volatile bool _paused;
    private volatile bool _yieldDue;
    private volatile bool _readerParked;
    private int _depth;
    private int _turn;
    private int _waitingWriters;
    private ulong _accepted;
    private ulong _reservedSequence;
    private long _handedOut;
    private TaskCompletionSource<bool>? _resumed;
    private SemaphoreSlim? _writerTurn;
    private SubmitIdMemory? _submitIds;

    internal WorkflowInput(int capacity, bool paused, int submitIdCapacity, int turnLimit, IReadPacing? pacing = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(turnLimit, 1);
        Capacity = capacity;
        _paused = paused;
        _submitIdCapacity = submitIdCapacity;
        _turnLimit = turnLimit;
        _pacing = pacing;
        _channel = Channel.CreateBounded<QueuedInput>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    private enum InputState : byte
    {
        /// <summary>Accepting Submits; handing out inputs while not paused.</summary>
        Open,

        /// <summary>The fiber is being interrupted: no Submit is accepted; what is queued may still be read.</summary>
        WritesClosed,

        /// <summary>The fiber has ended: nothing is accepted or handed out; what was left was counted.</summary>
        Closed,
    }

    /// <summary>Inputs waiting in the queue.</summary>
    public int Count => Math.Min(Volatile.Read(ref _depth), Capacity);

    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; }

    /// <summary>True while paused.</summary>
    /// <remarks>Lock-free: the flag is written under both locks.</remarks>
    public bool IsPaused => _paused;

    /// <summary>Inputs handed to the workflow so far.</summary>
    public long HandedOut => Volatile.Read(ref _handedOut);

    /// <summary>Inputs accepted so far: the sequence number of the last one.</summary>
    internal ulong Accepted
    {
        get
        {
            lock (_writeLock)
            {
                AssertWriterInvariants();
                return _accepted;
            }
        }
    }

    /// <summary>True while the workflow waits for input and the queue is empty (the fiber is idle).</summary>
    internal bool IsReaderIdle => _readerParked && Volatile.Read(ref _depth) == 0;

    /// <summary>Takes the next input's value if the gate is open and one is there.</summary>
    /// <remarks>May answer false while inputs are queued: see the fairness remark on the type; <see cref="WaitToReadAsync"/> then answers true.</remarks>
    public bool TryRead(out T item)
    {
        if (TryReadQueued(out var input))
        {
            item = input.Value;
            return true;
        }

        item = default!;
        return false;
    }

    /// <summary>Takes the next input, with its sequence number, submit id and trace context, if the gate is open and one is there.</summary>
    /// <remarks>
    /// An empty queue is answered without the lock (a read loop ends every batch with one such
    /// call): <c>_depth</c> counts an input before it enters the channel and until it has left it,
    /// so 0 means the channel is empty. An input written during the call is found by the next
    /// <see cref="WaitToReadAsync"/>.
    /// </remarks>
    public bool TryReadItem(out InputItem<T> item)
    {
        if (TryReadQueued(out var input))
        {
            var origin = input.Origin;
            item = new InputItem<T>(input.Value, input.Sequence, origin?.SubmitId, origin?.SubmitContext ?? default);
            return true;
        }

        item = default;
        return false;
    }

    private bool TryReadQueued(out QueuedInput item)
    {
        if (Volatile.Read(ref _depth) == 0)
        {
            item = default;
            return false;
        }

        lock (_gateLock)
        {
            AssertGateInvariants();
            if (_paused || _state == InputState.Closed)
            {
                item = default;
                return false;
            }

            if (_turn >= _turnLimit && _pacing is { ShouldYield: true })
            {
                _yieldDue = true;
                item = default;
                return false;
            }

            if (!_channel.Reader.TryRead(out item))
            {
                return false;
            }

            _turn++;
            Volatile.Write(ref _handedOut, _handedOut + 1); // only written here, under the gate lock
            Interlocked.Decrement(ref _depth);
            _readerParked = false;
            return true;
        }
    }

    /// <summary>
    /// Waits until an input can be read (the gate is open and the queue has one). Returns false
    /// once no input will ever be handed out again: the fiber is being interrupted or has ended
    /// and the queue is empty. Throws <see cref="OperationCanceledException"/> when
    /// <paramref name="cancellationToken"/> is cancelled first (except the workflow's own token,
    /// whose cancellation closes the input, so that the wait answers false).
    /// </summary>
    /// <remarks>
    /// Waiting with the workflow's own token (<see cref="WorkflowContext{TInput, TOutput}.CancellationToken"/>)
    /// registers nothing on it: an interrupt cancels that token and then closes the input, and
    /// closing ends the wait. A parked read loop therefore costs the channel's reusable waiter and
    /// nothing else (a registration per park would cost every idle fiber an allocation).
    /// </remarks>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        // Open, not paused, no yield due (the common case): straight to the channel. A pause or a
        // close that comes in between is seen by the TryReadItem the wait leads to.
        if (_paused || _yieldDue || _state == InputState.Closed)
        {
            return WaitAtTheGate(cancellationToken);
        }

        if (cancellationToken != _fiberToken && cancellationToken.CanBeCanceled)
        {
            return WaitWithAnotherTokenAsync(cancellationToken);
        }

        var wait = _channel.Reader.WaitToReadAsync();
        if (!wait.IsCompleted)
        {
            // Parked: the fiber is idle while the queue stays empty. (The turn goes on: what a
            // subscriber still has to read from the last run counts towards the next yield.)
            _readerParked = true;
        }

        return wait;
    }

    /// <summary>Reads the next input's value, waiting for one (and for Resume); throws <see cref="ChannelClosedException"/> once no input will come.</summary>
    public async ValueTask<T> ReadAsync(CancellationToken cancellationToken = default) =>
        (await ReadItemAsync(cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>Reads the next input, waiting for one (and for Resume); throws <see cref="ChannelClosedException"/> once no input will come.</summary>
    public async ValueTask<InputItem<T>> ReadItemAsync(CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryReadItem(out var item))
            {
                return item;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new ChannelClosedException();
    }

    /// <summary>Every input's value, as it comes, until the fiber is interrupted or ends; pauses while paused.</summary>
    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in ReadAllItemsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return item.Value;
        }
    }

    /// <summary>Every input, with its sequence number, submit id and trace context, until the fiber is interrupted or ends.</summary>
    public async IAsyncEnumerable<InputItem<T>> ReadAllItemsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryReadItem(out var item))
            {
                yield return item;
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>The token of the workflow's runtime fiber: waits on it register nothing (see <see cref="WaitToReadAsync"/>).</summary>
    internal void BindFiberToken(CancellationToken token)
    {
        lock (_gateLock)
        {
            AssertGateInvariants();
            _fiberToken = token;
        }
    }

    /// <summary>
    /// Offers one input. Accepted: it entered the queue with the next sequence number. A submit id
    /// seen before answers with its first sequence. Paused (unless <paramref name="bufferWhilePaused"/>),
    /// full (in <see cref="FullQueueMode.Reject"/> mode) and closed inputs are refused; a full queue
    /// in <see cref="FullQueueMode.Wait"/> mode waits for room, behind any Submit already waiting.
    /// </summary>
    internal ValueTask<InputWrite> SubmitAsync(T value, string? submitId, ActivityContext submitContext, bool bufferWhilePaused, FullQueueMode mode, CancellationToken cancellationToken)
    {
        // The submit id and trace context ride in a separate object, only when there are any: the
        // channel's slots stay small, and hold no reference for the garbage collector to trace
        // when an input has neither.
        var input = new QueuedInput(value, 0, submitId is null && submitContext == default ? null : new InputOrigin(submitId, submitContext));
        lock (_writeLock)
        {
            AssertWriterInvariants();
            if (_state != InputState.Open)
            {
                return new ValueTask<InputWrite>(InputWrite.Closed);
            }

            // A retry of an accepted input reports it as accepted, whatever the gate says now.
            if (TryFindDuplicateLocked(input.Origin?.SubmitId, out var duplicate))
            {
                return new ValueTask<InputWrite>(duplicate);
            }

            // Exact: the gate only moves under this lock too.
            if (_paused && !bufferWhilePaused)
            {
                return new ValueTask<InputWrite>(InputWrite.Paused);
            }

            if (_waitingWriters == 0 && TryWriteLocked(input, out var accepted))
            {
                return new ValueTask<InputWrite>(accepted);
            }

            if (mode == FullQueueMode.Reject)
            {
                return new ValueTask<InputWrite>(InputWrite.Full(Count));
            }

            _waitingWriters++;
            _writerTurn ??= new SemaphoreSlim(1, 1);
        }

        return WriteWhenRoomAsync(input, cancellationToken);
    }

    /// <summary>Closes the gate; true when it was open.</summary>
    internal bool Pause()
    {
        lock (_writeLock)
        {
            AssertWriterInvariants();
            lock (_gateLock)
            {
                AssertGateInvariants();
                if (_paused)
                {
                    return false;
                }

                _paused = true;
                return true;
            }
        }
    }

    /// <summary>Opens the gate; true when it was closed.</summary>
    internal bool Resume()
    {
        TaskCompletionSource<bool>? resumed;
        lock (_writeLock)
        {
            AssertWriterInvariants();
            lock (_gateLock)
            {
                AssertGateInvariants();
                if (!_paused)
                {
                    return false;
                }

                _paused = false;
                resumed = TakeGateWaitersLocked();
            }
        }

        resumed?.TrySetResult(true);
        return true;
    }

    /// <summary>
    /// The fiber is being interrupted (its token was cancelled just before): no Submit is accepted
    /// from now on (waiting ones fail), and a reader waiting on an empty queue or on the pause gate
    /// is told that no input will come.
    /// </summary>
    internal void CloseWrites()
    {
        TaskCompletionSource<bool>? resumed;
        lock (_writeLock)
        {
            AssertWriterInvariants();
            lock (_gateLock)
            {
                AssertGateInvariants();
                if (_state != InputState.Open)
                {
                    return;
                }

                _state = InputState.WritesClosed;
                _channel.Writer.TryComplete();
                resumed = TakeGateWaitersLocked();
            }
        }

        resumed?.TrySetResult(false);
    }

    /// <summary>
    /// The fiber has ended: nothing is accepted or handed out from now on, and the inputs still
    /// queued are removed and counted.
    /// </summary>
    /// <returns>How many accepted inputs were never handed out.</returns>
    internal int Close()
    {
        TaskCompletionSource<bool>? resumed;
        var unprocessed = 0;
        lock (_writeLock)
        {
            AssertWriterInvariants();
            lock (_gateLock)
            {
                AssertGateInvariants();
                if (_state == InputState.Closed)
                {
                    return 0;
                }

                _state = InputState.Closed;
                _channel.Writer.TryComplete();
                while (_channel.Reader.TryRead(out _))
                {
                    unprocessed++;
                }

                // Both locks are held: no read or fast write is between the channel and the count;
                // a waiting Submit's input counted before it entered may still be on its way (it
                // fails now, and uncounts itself).
                var left = _depth - unprocessed;
                Debug.Assert(left == 0 || (left == 1 && _reservedSequence != 0), "The depth counts the inputs in the channel, and one on its way in.");
                Volatile.Write(ref _depth, left);
                resumed = TakeGateWaitersLocked();
            }
        }

        resumed?.TrySetResult(false);
        return unprocessed;
    }

    private ValueTask<bool> WaitAtTheGate(CancellationToken cancellationToken)
    {
        Task<bool>? resumed = null;
        var anotherToken = cancellationToken != _fiberToken && cancellationToken.CanBeCanceled;
        lock (_gateLock)
        {
            AssertGateInvariants();
            if (_state == InputState.Closed)
            {
                return new ValueTask<bool>(false);
            }

            if (_paused)
            {
                if (_state != InputState.Open)
                {
                    return new ValueTask<bool>(false); // interrupted while paused: nothing more will be handed out
                }

                resumed = (_resumed ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
            else if (_yieldDue)
            {
                _yieldDue = false;
                _turn = 0;
                return YieldAsync();
            }
        }

        if (resumed is not null)
        {
            return new ValueTask<bool>(anotherToken ? resumed.WaitAsync(cancellationToken) : resumed);
        }

        // The gate opened meanwhile: wait on the channel (the TryReadItem this leads to checks the gate again).
        return anotherToken ? WaitWithAnotherTokenAsync(cancellationToken) : _channel.Reader.WaitToReadAsync();
    }

    /// <summary>A wait on the channel for a token that is not the workflow's own (see <see cref="LockedCancellation"/>).</summary>
    private async ValueTask<bool> WaitWithAnotherTokenAsync(CancellationToken cancellationToken)
    {
        using var cancellation = LockedCancellation.For(cancellationToken, _gateLock)!;
        ValueTask<bool> wait;
        lock (_gateLock)
        {
            AssertGateInvariants();
            wait = _channel.Reader.WaitToReadAsync(cancellation.Token);
        }

        if (!wait.IsCompleted)
        {
            _readerParked = true;
        }

        try
        {
            return await wait.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private TaskCompletionSource<bool>? TakeGateWaitersLocked()
    {
        var resumed = _resumed;
        _resumed = null;
        return resumed;
    }

    /// <summary>
    /// A Submit that waits for room: in its turn (waiting Submits take turns in arrival order:
    /// SemaphoreSlim releases its asynchronous waiters in order), it is the only writer, since
    /// every Submit behind it waits for the turn and none takes the fast path. So the sequence it
    /// will have is known before its input enters the channel: the one after the last accepted.
    /// It hands the input to the channel's own waiting write
    /// (<see cref="ChannelWriter{T}.WriteAsync"/>), which a read admits in the same step as it
    /// makes room; cancelled or closed before that, the input never entered and used no number.
    /// </summary>
    private async ValueTask<InputWrite> WriteWhenRoomAsync(QueuedInput input, CancellationToken cancellationToken)
    {
        var turn = _writerTurn!;
        var holdsTurn = false;
        LockedCancellation? cancellation = null;
        try
        {
            await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
            holdsTurn = true;
            cancellation = LockedCancellation.For(cancellationToken, _writeLock);
            ulong sequence;
            ValueTask write;
            lock (_writeLock)
            {
                AssertWriterInvariants();
                if (_state != InputState.Open)
                {
                    return InputWrite.Closed;
                }

                if (TryFindDuplicateLocked(input.Origin?.SubmitId, out var duplicate))
                {
                    return duplicate;
                }

                // Counted before it enters the channel (see TryWriteLocked); uncounted if it never does.
                sequence = _accepted + 1;
                _reservedSequence = sequence;
                Interlocked.Increment(ref _depth);
                write = _channel.Writer.WriteAsync(input with { Sequence = sequence }, cancellation?.Token ?? CancellationToken.None);
            }

            try
            {
                await write.ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is ChannelClosedException or OperationCanceledException)
            {
                lock (_writeLock)
                {
                    AssertWriterInvariants();
                    _reservedSequence = 0;
                    Interlocked.Decrement(ref _depth);
                }

                if (exception is OperationCanceledException)
                {
                    throw new OperationCanceledException(cancellationToken);
                }

                return InputWrite.Closed;
            }

            lock (_writeLock)
            {
                AssertWriterInvariants();
                _reservedSequence = 0;
                return AcceptedLocked(input.Origin?.SubmitId, sequence, Count);
            }
        }
        finally
        {
            cancellation?.Dispose();
            lock (_writeLock)
            {
                AssertWriterInvariants();
                _waitingWriters--;
            }

            if (holdsTurn)
            {
                turn.Release();
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="input"/> with the next sequence number if the channel has room. A full
    /// count answers false without asking the channel (the count may still include a read on its
    /// way out: the Submit then waits, and the channel admits it at once).
    /// </summary>
    private bool TryWriteLocked(QueuedInput input, out InputWrite accepted)
    {
        if (Volatile.Read(ref _depth) >= Capacity)
        {
            accepted = default;
            return false;
        }

        // Counted before it enters the channel (and uncounted if it does not): the depth never
        // falls below the channel's count, so a reader that finds it 0 may stop at once.
        var depth = Interlocked.Increment(ref _depth);
        var sequence = _accepted + 1;
        if (!_channel.Writer.TryWrite(input with { Sequence = sequence }))
        {
            Interlocked.Decrement(ref _depth);
            accepted = default;
            return false;
        }

        accepted = AcceptedLocked(input.Origin?.SubmitId, sequence, depth);
        return true;
    }

    /// <summary>Records an input that entered the channel with <paramref name="sequence"/>.</summary>
    private InputWrite AcceptedLocked(string? submitId, ulong sequence, int depth)
    {
        Debug.Assert(sequence == _accepted + 1, "Accepted inputs are numbered without holes.");
        _accepted = sequence;
        if (submitId is not null && _submitIdCapacity > 0)
        {
            (_submitIds ??= new SubmitIdMemory(_submitIdCapacity)).Add(submitId, sequence);
        }

        return InputWrite.Accepted(sequence, depth);
    }

    private bool TryFindDuplicateLocked(string? submitId, out InputWrite duplicate)
    {
        if (submitId is not null && _submitIds is not null && _submitIds.TryGet(submitId, out var sequence))
        {
            duplicate = InputWrite.Duplicate(sequence, Count);
            return true;
        }

        duplicate = default;
        return false;
    }

    private static async ValueTask<bool> YieldAsync()
    {
        // To the thread pool's global queue: the work this run queued on its own thread (the
        // subscribers it woke) runs first.
        await Task.Yield();
        return true;
    }

    /// <summary>What the channel holds for one input.</summary>
    private readonly record struct QueuedInput(T Value, ulong Sequence, InputOrigin? Origin);

    /// <summary>Where an input came from, when it says: its submit id and the Submit's trace context.</summary>
    private sealed record InputOrigin(string? SubmitId, ActivityContext SubmitContext);

    [Conditional("DEBUG")]
    private void AssertWriterInvariants()
    {
        Debug.Assert(_writeLock.IsHeldByCurrentThread, "Writer invariants are checked under the write lock.");
        Debug.Assert((ulong)Volatile.Read(ref _handedOut) <= Math.Max(_accepted, _reservedSequence), "Nothing is handed out that was not accepted (or is being accepted by the waiting Submit).");
        Debug.Assert(_reservedSequence == 0 || _reservedSequence == _accepted + 1, "A waiting Submit's input has the sequence after the last accepted.");
        Debug.Assert(_waitingWriters >= 0, "Waiting Submits are never negative.");
        Debug.Assert(_waitingWriters == 0 || _writerTurn is not null, "Waiting Submits take turns.");
        Debug.Assert(_reservedSequence == 0 || _waitingWriters > 0, "Only a waiting Submit reserves a sequence.");
        Debug.Assert(_state != InputState.Closed || Volatile.Read(ref _depth) <= (_reservedSequence != 0 ? 1 : 0), "A closed input holds nothing (but a waiting Submit's input on its way in).");
    }

    [Conditional("DEBUG")]
    private void AssertGateInvariants()
    {
        Debug.Assert(_gateLock.IsHeldByCurrentThread, "Gate invariants are checked under the gate lock.");
        Debug.Assert(_resumed is null || (_paused && _state == InputState.Open), "Readers wait on the gate only while it is paused and the input is open.");
        Debug.Assert(_turn >= 0, "A turn counts the inputs handed out since the reader last yielded.");

        // At least the channel's count: one more while a write is on its way in (up to a refused
        // one on a full channel), one more while a read is on its way out.
        Debug.Assert(Volatile.Read(ref _depth) >= 0 && Volatile.Read(ref _depth) <= Capacity + 2, "The depth follows the channel's count.");
    }
}
