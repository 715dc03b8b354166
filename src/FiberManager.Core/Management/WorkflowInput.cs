using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace FiberManager.Core.Management;

/// <summary>
/// A managed fiber's input: one bounded <see cref="Channel{T}"/> behind a pause gate. While
/// paused it hands out nothing (the item in progress finishes); once closed (the fiber ended)
/// it hands out nothing ever again, and what was left in it is counted as unprocessed.
/// </summary>
/// <remarks>
/// Invariants (DEBUG-checked at the start of every locked block): a paused or closed gate hands
/// out nothing — every successful <see cref="TryRead"/> happens under the lock with the gate
/// open; the resume waiter exists only while paused. Waiters are woken outside the lock.
/// </remarks>
/// <typeparam name="T">The input type.</typeparam>
/// <example><code>
/// await foreach (var item in context.Input.ReadAllAsync(context.CancellationToken))
///     context.Publish(item);
/// </code></example>
[DebuggerDisplay("Count = {Count}/{Capacity}, Paused = {IsPaused}")]
public sealed class WorkflowInput<T>
{
    private readonly Lock _lock = new();
    private readonly Channel<T> _channel;
    private bool _paused;
    private bool _closed;
    private bool _readerParked;
    private TaskCompletionSource? _resumed;
    private long _handedOut;

    internal WorkflowInput(int capacity, bool paused)
    {
        Capacity = capacity;
        _paused = paused;
        _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
    }

    /// <summary>Inputs waiting in the queue.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>The queue's capacity.</summary>
    public int Capacity { get; }

    /// <summary>True while paused.</summary>
    public bool IsPaused
    {
        get
        {
            lock (_lock)
            {
                return _paused;
            }
        }
    }

    /// <summary>Inputs handed to the workflow so far.</summary>
    public long HandedOut => Interlocked.Read(ref _handedOut);

    /// <summary>True while the workflow is parked waiting for input and the queue is empty.</summary>
    internal bool IsReaderIdle => Volatile.Read(ref _readerParked) && _channel.Reader.Count == 0;

    /// <summary>Takes the next input if the gate is open and one is there.</summary>
    public bool TryRead(out T item)
    {
        lock (_lock)
        {
            AssertInvariants();
            if (!_paused && !_closed && _channel.Reader.TryRead(out item!))
            {
                _handedOut++;
                return true;
            }
        }

        item = default!;
        return false;
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

        lock (_lock)
        {
            AssertInvariants();
            if (_closed)
            {
                return new ValueTask<bool>(false);
            }

            if (!_paused && _channel.Reader.Count > 0)
            {
                return new ValueTask<bool>(true);
            }
        }

        return WaitSlowAsync(cancellationToken);
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

    internal bool TryWrite(T item) => _channel.Writer.TryWrite(item);

    internal ValueTask WriteAsync(T item, CancellationToken cancellationToken) => _channel.Writer.WriteAsync(item, cancellationToken);

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

            _paused = true;
            return true;
        }
    }

    /// <summary>Opens the gate; true when it was closed.</summary>
    internal bool Resume()
    {
        TaskCompletionSource? resumed;
        lock (_lock)
        {
            AssertInvariants();
            if (!_paused)
            {
                return false;
            }

            _paused = false;
            resumed = _resumed;
            _resumed = null;
        }

        resumed?.TrySetResult();
        return true;
    }

    /// <summary>
    /// Ends the input for good: no write succeeds after this, nothing is handed out, and the
    /// items still queued are removed and counted.
    /// </summary>
    /// <returns>How many accepted inputs were never handed out.</returns>
    internal int Close()
    {
        TaskCompletionSource? resumed;
        var unprocessed = 0;
        lock (_lock)
        {
            AssertInvariants();
            _closed = true;
            _channel.Writer.TryComplete();
            while (_channel.Reader.TryRead(out _))
            {
                unprocessed++;
            }

            resumed = _resumed;
            _resumed = null;
        }

        resumed?.TrySetResult();
        return unprocessed;
    }

    private async ValueTask<bool> WaitSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? resumed = null;
            lock (_lock)
            {
                AssertInvariants();
                if (_closed)
                {
                    return false;
                }

                if (_paused)
                {
                    _resumed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    resumed = _resumed.Task;
                }
                else if (_channel.Reader.Count > 0)
                {
                    return true;
                }
            }

            Volatile.Write(ref _readerParked, true);
            try
            {
                if (resumed is not null)
                {
                    await resumed.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (!await _channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return false;
                }
            }
            finally
            {
                Volatile.Write(ref _readerParked, false);
            }
        }
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_resumed is null || _paused, "a resume waiter exists only while paused");
        Debug.Assert(!_closed || _channel.Reader.Count == 0, "a closed gate holds no inputs");
    }
}
