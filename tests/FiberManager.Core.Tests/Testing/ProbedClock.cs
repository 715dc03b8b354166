namespace FiberManager.Core.Tests.Testing;

/// <summary>
/// A clock over another that runs a probe at the next reading of the time made on the thread that
/// armed it: a sync point at "the component is stamping something now", for ordering tests that
/// must look at a component's state at that exact moment (no hook in the component itself).
/// </summary>
public sealed class ProbedClock(TimeProvider inner) : TimeProvider
{
    private Action? _probe;
    private int _thread;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override long TimestampFrequency => inner.TimestampFrequency;

    /// <summary>Runs <paramref name="probe"/> at this thread's next <see cref="GetUtcNow"/>, once.</summary>
    public void ArmOnThisThread(Action probe)
    {
        _thread = Environment.CurrentManagedThreadId;
        Volatile.Write(ref _probe, probe);
    }

    public override DateTimeOffset GetUtcNow()
    {
        if (Environment.CurrentManagedThreadId == Volatile.Read(ref _thread) && Interlocked.Exchange(ref _probe, null) is { } probe)
        {
            probe();
        }

        return inner.GetUtcNow();
    }

    public override long GetTimestamp() => inner.GetTimestamp();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        inner.CreateTimer(callback, state, dueTime, period);
}
