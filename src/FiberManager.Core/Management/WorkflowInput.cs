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
/// Invariants (DEBUG-checked at the start of every block that holds <c>_lock</c>): every input
/// enters the channel under the lock, with the next sequence number; a paused or closed gate hands
/// out nothing (<see cref="TryReadItem"/> reads from the channel only under the lock with the gate
/// open); <c>_depth</c> is the number of inputs in the channel; a reader waits on the gate only
/// while it is paused and open for writes or reads; a Submit waits for room only while another one
/// waits before it or the queue is full. Lock order: the fiber's lock, then this lock, then the
/// channel's. Readers parked on the gate are woken outside the lock; the channel wakes its own
/// waiters outside its lock, never inline (<see cref="ChannelOptions.AllowSynchronousContinuations"/> is off).
/// </para>
/// <para>
/// Fairness: a read loop that keeps finding inputs would run on one thread-pool thread for as long
/// as Submits keep up, while the subscribers its outputs woke wait behind it on that thread's
/// queue; a subscriber that keeps up on average would then miss events when one such run outgrows
/// its buffer. So after <c>turnLimit</c> inputs in a row without waiting, <see cref="TryReadItem"/>
/// answers false once and the next <see cref="WaitToReadAsync"/> yields the thread (it completes
/// asynchronously, with true) before the loop continues.
/// </para>
/// </remarks>
/// <example><code>
/// await foreach (var item in context.Input.ReadAllAsync(context.CancellationToken))
///     context.Publish(item);
/// </code></example>
[DebuggerDisplay("Count = {Count}/{Capacity}, Paused = {IsPaused}, State = {_state}")]
public sealed class WorkflowInput<T>
{
    private readonly Lock _lock = new();
    private readonly Channel<InputItem<T>> _channel;
    private readonly int _turnLimit;
    private readonly int _submitIdCapacity;
    private CancellationToken _fiberToken;
    private InputState _state;
    private bool _paused;
    private bool _yieldDue;
    private bool _readerParked;
    private int _depth;
    private int _turn;
    private int _waitingWriters;
    private ulong _accepted;
    private long _handedOut;
    private TaskCompletionSource<bool>? _resumed;
    private SemaphoreSlim? _writerTurn;
    private SubmitIdMemory? _submitIds;

    internal WorkflowInput(int capacity, bool paused, int submitIdCapacity, int turnLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(turnLimit, 1);
        Capacity = capacity;
        _paused = paused;
        _submitIdCapacity = submitIdCapacity;
        _turnLimit = turnLimit;
        _channel = Channel.CreateBounded<InputItem<T>>(new BoundedChannelOptions(capacity)
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
    public int Count => Volatile.Read(ref _depth);

    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; }

    /// <summary>True while paused.</summary>
    /// <remarks>Lock-free: the flag is written under the lock.</remarks>
    public bool IsPaused => Volatile.Read(ref _paused);

    /// <summary>Inputs handed to the workflow so far.</summary>
    public long HandedOut => Interlocked.Read(ref _handedOut);

    /// <summary>Inputs accepted so far: the sequence number of the last one.</summary>
    internal ulong Accepted
    {
        get
        {
            lock (_lock)
            {
                AssertInvariants();
                return _accepted;
            }
        }
    }

    /// <summary>True while the workflow waits for input and the queue is empty (the fiber is idle).</summary>
    internal bool IsReaderIdle => Volatile.Read(ref _readerParked) && Volatile.Read(ref _depth) == 0;

    /// <summary>Takes the next input's value if the gate is open and one is there.</summary>
    /// <remarks>May answer false while inputs are queued: see the fairness remark on the type; <see cref="WaitToReadAsync"/> then answers true.</remarks>
    public bool TryRead(out T item)
    {
        if (TryReadItem(out var input))
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
    /// call): <c>_depth</c> is written under the lock with a volatile write, so the answer is the
    /// queue's state at that read. An input written during the call is found by the next
    /// <see cref="WaitToReadAsync"/>.
    /// </remarks>
    public bool TryReadItem(out InputItem<T> item)
    {
        if (Volatile.Read(ref _depth) == 0)
        {
            item = default;
            return false;
        }

        lock (_lock)
        {
            AssertInvariants();
            if (_paused || _state == InputState.Closed)
            {
                item = default;
                return false;
            }

            if (_turn >= _turnLimit)
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
            _handedOut++;
            Volatile.Write(ref _depth, _depth - 1);
            Volatile.Write(ref _readerParked, false);
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

        Task<bool>? resumed = null;
        var ownToken = false;
        lock (_lock)
        {
            AssertInvariants();
            if (_state == InputState.Closed)
            {
                return new ValueTask<bool>(false);
            }

            ownToken = cancellationToken == _fiberToken;
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
            return new ValueTask<bool>(ownToken || !cancellationToken.CanBeCanceled ? resumed : resumed.WaitAsync(cancellationToken));
        }

        var wait = _channel.Reader.WaitToReadAsync(ownToken ? CancellationToken.None : cancellationToken);
        if (!wait.IsCompleted)
        {
            // Parked: the next run starts a new turn, and the fiber is idle while the queue stays empty.
            Volatile.Write(ref _turn, 0);
            Volatile.Write(ref _readerParked, true);
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
        lock (_lock)
        {
            AssertInvariants();
            _fiberToken = token;
        }
    }

    /// <summary>
    /// Offers one input. Accepted: it entered the queue with the next sequence number. A submit id
    /// seen before answers with its first sequence. Paused (unless <paramref name="bufferWhilePaused"/>),
    /// full (in <see cref="FullQueueMode.Reject"/> mode) and closed inputs are refused; a full queue
    /// in <see cref="FullQueueMode.Wait"/> mode waits for room, behind any Submit already waiting.
    /// </summary>
    internal ValueTask<InputWrite> SubmitAsync(InputItem<T> input, bool bufferWhilePaused, FullQueueMode mode, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (_state != InputState.Open)
            {
                return new ValueTask<InputWrite>(InputWrite.Closed);
            }

            // A retry of an accepted input reports it as accepted, whatever the gate says now.
            if (TryFindDuplicateLocked(input.SubmitId, out var duplicate))
            {
                return new ValueTask<InputWrite>(duplicate);
            }

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
                return new ValueTask<InputWrite>(InputWrite.Full(_depth));
            }

            _waitingWriters++;
            _writerTurn ??= new SemaphoreSlim(1, 1);
        }

        return WriteWhenRoomAsync(input, cancellationToken);
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
        TaskCompletionSource<bool>? resumed;
        lock (_lock)
        {
            AssertInvariants();
            if (!_paused)
            {
                return false;
            }

            Volatile.Write(ref _paused, false);
            resumed = _resumed;
            _resumed = null;
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
        lock (_lock)
        {
            AssertInvariants();
            if (_state != InputState.Open)
            {
                return;
            }

            _state = InputState.WritesClosed;
            _channel.Writer.TryComplete();
            resumed = _resumed;
            _resumed = null;
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
        lock (_lock)
        {
            AssertInvariants();
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

            Debug.Assert(unprocessed == _depth, "The depth counts exactly the inputs in the channel.");
            Volatile.Write(ref _depth, 0);
            resumed = _resumed;
            _resumed = null;
        }

        resumed?.TrySetResult(false);
        return unprocessed;
    }

    private async ValueTask<InputWrite> WriteWhenRoomAsync(InputItem<T> input, CancellationToken cancellationToken)
    {
        var turn = _writerTurn!;
        var holdsTurn = false;
        var counted = true;
        try
        {
            // Waiting Submits take turns in arrival order (SemaphoreSlim releases its asynchronous
            // waiters in order); the one whose turn it is waits for room in the channel.
            await turn.WaitAsync(cancellationToken).ConfigureAwait(false);
            holdsTurn = true;
            while (true)
            {
                lock (_lock)
                {
                    AssertInvariants();
                    if (_state != InputState.Open)
                    {
                        return InputWrite.Closed;
                    }

                    if (TryFindDuplicateLocked(input.SubmitId, out var duplicate))
                    {
                        return duplicate;
                    }

                    if (TryWriteLocked(input, out var accepted))
                    {
                        _waitingWriters--;
                        counted = false;
                        return accepted;
                    }
                }

                if (!await _channel.Writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
                {
                    return InputWrite.Closed;
                }
            }
        }
        finally
        {
            if (counted)
            {
                lock (_lock)
                {
                    AssertInvariants();
                    _waitingWriters--;
                }
            }

            if (holdsTurn)
            {
                turn.Release();
            }
        }
    }

    /// <summary>Writes <paramref name="input"/> with the next sequence number if the channel has room.</summary>
    private bool TryWriteLocked(InputItem<T> input, out InputWrite accepted)
    {
        var sequence = _accepted + 1;
        if (!_channel.Writer.TryWrite(input with { Sequence = sequence }))
        {
            accepted = default;
            return false;
        }

        _accepted = sequence;
        Volatile.Write(ref _depth, _depth + 1);
        if (input.SubmitId is { } submitId && _submitIdCapacity > 0)
        {
            (_submitIds ??= new SubmitIdMemory(_submitIdCapacity)).Add(submitId, sequence);
        }

        accepted = InputWrite.Accepted(sequence, _depth);
        return true;
    }

    private bool TryFindDuplicateLocked(string? submitId, out InputWrite duplicate)
    {
        if (submitId is not null && _submitIds is not null && _submitIds.TryGet(submitId, out var sequence))
        {
            duplicate = InputWrite.Duplicate(sequence, _depth);
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

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Invariants are checked under the input's lock.");
        Debug.Assert(_depth >= 0 && _depth <= Capacity, "The queue holds at most its capacity.");
        Debug.Assert(_state == InputState.Closed || _channel.Reader.Count == _depth, "The depth counts exactly the inputs in the channel.");
        Debug.Assert(_state != InputState.Closed || _depth == 0, "A closed input holds nothing.");
        Debug.Assert((ulong)_handedOut + (ulong)_depth <= _accepted, "Nothing is handed out or queued that was not accepted.");
        Debug.Assert(_resumed is null || (_paused && _state == InputState.Open), "Readers wait on the gate only while it is paused and the input is open.");
        Debug.Assert(_waitingWriters >= 0, "Waiting Submits are never negative.");
        Debug.Assert(_waitingWriters == 0 || _writerTurn is not null, "Waiting Submits take turns.");
    }
}

/// <summary>What <see cref="WorkflowInput{T}.SubmitAsync"/> did with an input: a value, turned into a result or an error by the fiber.</summary>
/// <param name="Outcome">Accepted, duplicate, or why it was refused.</param>
/// <param name="Sequence">The input's sequence number (accepted or duplicate).</param>
/// <param name="Depth">The queue depth right after it.</param>
internal readonly record struct InputWrite(SubmitOutcome Outcome, ulong Sequence, int Depth)
{
    public static InputWrite Closed => new(SubmitOutcome.Closed, 0, 0);

    public static InputWrite Paused => new(SubmitOutcome.Paused, 0, 0);

    public static InputWrite Full(int depth) => new(SubmitOutcome.Full, 0, depth);

    public static InputWrite Accepted(ulong sequence, int depth) => new(SubmitOutcome.Accepted, sequence, depth);

    public static InputWrite Duplicate(ulong sequence, int depth) => new(SubmitOutcome.Duplicate, sequence, depth);
}

/// <summary>See <see cref="InputWrite"/>.</summary>
internal enum SubmitOutcome : byte
{
    Accepted,
    Duplicate,
    Paused,
    Full,
    Closed,
}
