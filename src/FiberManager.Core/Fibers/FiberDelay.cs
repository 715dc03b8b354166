using System.Diagnostics;
using System.Threading.Tasks.Sources;
using FiberManager.Core.Primitives;

namespace FiberManager.Core.Fibers;

/// <summary>
/// A fiber's delay (or an endless park): completes when the runtime's clock reaches the due
/// time, or fails with <see cref="OperationCanceledException"/> when the fiber is interrupted.
/// </summary>
/// <remarks>
/// <para>Unlike <c>Task.Delay</c>, the timer starts only once the awaiter has registered its
/// continuation (in <see cref="IValueTaskSource.OnCompleted"/>), and completion runs that
/// continuation inline on the timer's thread. The fiber reports <see cref="FiberStatus.Suspended"/>
/// only once the wait is fully armed (parked in the fiber's wait slot or registered on its token,
/// and the timer created), so when a test clock moves past the due time after that, the fiber
/// resumes before the clock's <c>Advance</c> returns: schedules on a manual clock are deterministic.</para>
/// <para>An interruption completes the wait through the fiber's wait slot (<see cref="Fiber.TryPark"/>),
/// after the token's callbacks have run, so waiting needs neither the fiber's cancellation source
/// nor a registration on its token; only when another wait of the same fiber holds the slot does
/// this one register on the token. The interrupted wait resumes the fiber on the thread pool (never
/// on the interrupter's thread) and its await throws a fresh <see cref="OperationCanceledException"/>
/// for the fiber's token (one throw, no captured dispatch state).</para>
/// <para>One object per wait: the value-task source (<see cref="SingleWaiter{TResult}"/>, parked once,
/// at creation) is this object. Whichever of the timer, the slot and the token completes it first
/// wins (<see cref="SingleWaiter{TResult}.TryBeginCompletion"/>); the winner disposes the timer,
/// frees the slot and ends the suspension, then resumes the fiber. The suspension is entered by
/// <see cref="Start"/> and ended by the completion, whichever order they run in
/// (<c>_suspension</c>: 0 = neither, 1 = entered, 2 = completed; each side moves it once).</para>
/// </remarks>
[DebuggerDisplay("Delay {_delay}, {DebuggerState,nq}")]
internal sealed class FiberDelay : SingleWaiter<bool>, IValueTaskSource
{
    private static readonly TimerCallback s_elapsed = static state => ((FiberDelay)state!).Complete(interrupted: false);

    private readonly Fiber _fiber;
    private readonly TimeSpan _delay;
    private readonly short _version;
    private ITimer? _timer;
    private int _started;
    private int _suspension;
    private volatile bool _interrupted;

    private FiberDelay(Fiber fiber, TimeSpan delay)
        : base(runContinuationsAsynchronously: false)
    {
        _fiber = fiber;
        _delay = delay;
        var parked = TryPark(out _version);
        Debug.Assert(parked, "A new delay parks at once.");
    }

    private string DebuggerState => IsParked ? "waiting" : _interrupted ? "interrupted" : "elapsed";

    /// <summary>A delay of <paramref name="delay"/> (<see cref="Timeout.InfiniteTimeSpan"/>: until interrupted).</summary>
    public static ValueTask Create(Fiber fiber, TimeSpan delay)
    {
        if (delay != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        }

        if (fiber.IsCancelled)
        {
            return ValueTask.FromCanceled(fiber.Token);
        }

        if (delay == TimeSpan.Zero)
        {
            return ValueTask.CompletedTask;
        }

        var source = new FiberDelay(fiber, delay);
        return new ValueTask(source, source._version);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token)
    {
        var status = GetStatus(token);
        return status == ValueTaskSourceStatus.Succeeded && _interrupted ? ValueTaskSourceStatus.Canceled : status;
    }

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        OnCompleted(continuation, state, token, flags);
        Start();
    }

    void IValueTaskSource.GetResult(short token)
    {
        GetResult(token);
        if (_interrupted)
        {
            throw new OperationCanceledException(_fiber.Token);
        }
    }

    /// <summary>Called once by the fiber's interrupt (or by <see cref="Fiber.TryPark"/>) when it took this wait from the slot.</summary>
    internal void Interrupted() => Complete(interrupted: true);

    /// <summary>Registered on the fiber's token only when the wait slot was taken: the token's cancellation interrupts the wait.</summary>
    protected override void OnCancellationRequested(CancellationToken cancellationToken) => Complete(interrupted: true);

    private void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        if (!_fiber.TryPark(this))
        {
            RegisterCancellation(_fiber.Token, _version);
        }

        if (_delay != Timeout.InfiniteTimeSpan && IsParked)
        {
            Volatile.Write(ref _timer, _fiber.Runtime.TimeProvider.CreateTimer(s_elapsed, this, _delay, Timeout.InfiniteTimeSpan));
        }

        // Suspended only now that the wait is armed; if it completed meanwhile, the completion did not count us.
        _fiber.EnterSuspended();
        if (Interlocked.CompareExchange(ref _suspension, 1, 0) != 0)
        {
            _fiber.ExitSuspended();
        }

        if (!IsParked)
        {
            // Completed while we were still wiring up: it may have missed the timer.
            Volatile.Read(ref _timer)?.Dispose();
        }
    }

    private void Complete(bool interrupted)
    {
        if (!TryBeginCompletion(_version))
        {
            return;
        }

        _interrupted = interrupted;
        Volatile.Read(ref _timer)?.Dispose();
        if (!interrupted)
        {
            _fiber.Unpark(this);
        }

        if (Interlocked.Exchange(ref _suspension, 2) == 1)
        {
            _fiber.ExitSuspended();
        }

        // An interrupted fiber never resumes on the interrupter's thread (inside CancellationTokenSource.Cancel()
        // or Fiber.Interrupt): its remaining body would run there.
        SetResult(!interrupted, forceAsynchronousContinuation: interrupted);
    }
}
