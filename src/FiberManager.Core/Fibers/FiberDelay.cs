using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace FiberManager.Core.Fibers;

/// <summary>
/// A fiber's delay (or an endless park): completes when the runtime's clock reaches the due
/// time, or fails with <see cref="OperationCanceledException"/> when the fiber is interrupted.
/// </summary>
/// <remarks>
/// Unlike <c>Task.Delay</c>, the timer starts only once the awaiter has registered its
/// continuation (in <see cref="OnCompleted"/>), and completion runs that continuation inline on
/// the timer's thread. So when a test clock shows the timer, the fiber is already parked on it,
/// and advancing the clock resumes the fiber before <c>Advance</c> returns: schedules on a
/// manual clock are deterministic. The fiber reports <see cref="FiberStatus.Suspended"/> while
/// it waits. States: 0 = created, 1 = waiting, 2 = done; each moves forward once.
/// <para>An interruption completes the wait through the fiber's wait slot (<see cref="Fiber.TryPark"/>),
/// after the token's callbacks have run, so waiting needs neither the fiber's cancellation source
/// nor a registration on its token; only when another wait of the same fiber holds the slot does
/// this one register on the token. The interrupted wait resumes the fiber on the thread pool and
/// its await throws a fresh <see cref="OperationCanceledException"/> for the fiber's token (one
/// throw, no captured dispatch state).</para>
/// </remarks>
[DebuggerDisplay("Delay {_delay}")]
internal sealed class FiberDelay : IValueTaskSource
{
    private readonly Fiber _fiber;
    private readonly TimeSpan _delay;

    // The result is true when the delay elapsed, false when the fiber was interrupted.
    private ManualResetValueTaskSourceCore<bool> _core;
    private ITimer? _timer;
    private CancellationTokenRegistration _registration;
    private int _state;

    private FiberDelay(Fiber fiber, TimeSpan delay)
    {
        _fiber = fiber;
        _delay = delay;
        _core.RunContinuationsAsynchronously = false;
    }

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
        return new ValueTask(source, source._core.Version);
    }

    public ValueTaskSourceStatus GetStatus(short token)
    {
        var status = _core.GetStatus(token);
        return status == ValueTaskSourceStatus.Succeeded && !_core.GetResult(token) ? ValueTaskSourceStatus.Canceled : status;
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _core.OnCompleted(continuation, state, token, flags);
        Start();
    }

    public void GetResult(short token)
    {
        if (!_core.GetResult(token))
        {
            throw new OperationCanceledException(_fiber.Token);
        }
    }

    /// <summary>Called once by the fiber's interrupt (or by <see cref="Fiber.TryPark"/>) when it took this wait from the slot.</summary>
    internal void Interrupted() => Complete(cancelled: true);

    private void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return;
        }

        _fiber.EnterSuspended();
        if (!_fiber.TryPark(this))
        {
            _registration = _fiber.Token.UnsafeRegister(static s => ((FiberDelay)s!).Complete(cancelled: true), this);
        }

        if (_delay != Timeout.InfiniteTimeSpan && Volatile.Read(ref _state) == 1)
        {
            _timer = _fiber.Runtime.TimeProvider.CreateTimer(static s => ((FiberDelay)s!).Complete(cancelled: false), this, _delay, Timeout.InfiniteTimeSpan);
        }

        if (Volatile.Read(ref _state) == 2)
        {
            // Completed (cancelled) while we were still wiring up: release what we made.
            _timer?.Dispose();
            _registration.Unregister();
        }
    }

    private void Complete(bool cancelled)
    {
        if (Interlocked.CompareExchange(ref _state, 2, 1) != 1)
        {
            return;
        }

        _timer?.Dispose();
        _registration.Unregister();
        if (!cancelled)
        {
            _fiber.Unpark(this);
        }

        _fiber.ExitSuspended();
        if (cancelled)
        {
            // Never resume the fiber on the interrupter's thread (inside CancellationTokenSource.Cancel()
            // or Fiber.Interrupt): its remaining body would run there.
            _core.RunContinuationsAsynchronously = true;
        }

        _core.SetResult(!cancelled);
    }
}
