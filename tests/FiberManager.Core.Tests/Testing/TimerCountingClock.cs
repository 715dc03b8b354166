using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests.Testing;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also counts the timers created from it and not yet disposed,
/// for tests that assert a wait dropped its timer (or kept it).
/// </summary>
public sealed class TimerCountingClock : FakeTimeProvider
{
    private int _active;

    /// <summary>Timers created and not yet disposed.</summary>
    public int ActiveTimerCount => Volatile.Read(ref _active);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _active);
        return new CountedTimer(this, timer);
    }

    private sealed class CountedTimer(TimerCountingClock owner, ITimer inner) : ITimer
    {
        private int _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period) => inner.Change(dueTime, period);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref owner._active);
            }

            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
