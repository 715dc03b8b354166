using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace FiberManager.Core;

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
/// </remarks>
[DebuggerDisplay("Delay {_delay}")]
internal sealed class FiberDelay : IValueTaskSource
{
    private readonly Fiber _fiber;
    private readonly TimeSpan _delay;
    private readonly CancellationToken _cancellationToken;
    private ManualResetValueTaskSourceCore<bool> _core;
    private ITimer? _timer;
    private CancellationTokenRegistration _registration;
    private int _state;

    private FiberDelay(Fiber fiber, TimeSpan delay, CancellationToken cancellationToken)
    {
        _fiber = fiber;
        _delay = delay;
        _cancellationToken = cancellationToken;
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>A delay of <paramref name="delay"/> (<see cref="Timeout.InfiniteTimeSpan"/>: until interrupted).</summary>
    public static ValueTask Create(Fiber fiber, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delay != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (delay == TimeSpan.Zero)
        {
            return ValueTask.CompletedTask;
        }

        var source = new FiberDelay(fiber, delay, cancellationToken);
        return new ValueTask(source, source._core.Version);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _core.OnCompleted(continuation, state, token, flags);
        Start();
    }

    public void GetResult(short token) => _core.GetResult(token);

    private void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return;
        }

        _fiber.EnterSuspended();
        _registration = _cancellationToken.UnsafeRegister(static s => ((FiberDelay)s!).Complete(cancelled: true), this);
        if (_delay != Timeout.InfiniteTimeSpan)
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
        _fiber.ExitSuspended();
        if (cancelled)
        {
            // Never resume the fiber inside CancellationTokenSource.Cancel(): its remaining body
            // would run on the interrupter's thread, ahead of the token's other callbacks (and
            // could dispose their registrations before they run).
            _core.RunContinuationsAsynchronously = true;
            _core.SetException(new OperationCanceledException(_cancellationToken));
        }
        else
        {
            _core.SetResult(true);
        }
    }
}
