using FiberManager.Core.Fibers;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Core.Tests.Testing;

/// <summary>Sync points for "the fibers have parked", and clock steps on a <see cref="FakeTimeProvider"/>.</summary>
/// <remarks>
/// A fiber is parked once it reports <see cref="FiberStatus.Suspended"/>: its runtime wait is armed (a
/// delay's timer exists) and it has given its first thread back, so every await up its call chain is
/// registered. Advancing the clock after that resumes it inline, on the thread that advances the clock.
/// <see cref="FakeTimeProvider.Advance"/> runs the timers' callbacks on the calling thread; the test's
/// thread has xunit's synchronization context, under which .NET does not inline await continuations (it
/// posts them to the context, and a later step could overtake the fiber), so the steps here advance the
/// clock on a thread-pool thread, as a real timer would fire.
/// </remarks>
public static class Parking
{
    /// <summary>Completes once every fiber is assigned and parked.</summary>
    public static Task ParkedAsync(params Func<Fiber?>[] fibers) =>
        TestTimeouts.UntilAsync(
            () => fibers.All(f => f() is { Status: FiberStatus.Suspended }),
            $"{fibers.Length} fiber(s) are parked");

    /// <summary>Completes once <paramref name="fiber"/> is parked.</summary>
    public static Task ParkedAsync(this Fiber fiber) =>
        TestTimeouts.UntilAsync(() => fiber.Status == FiberStatus.Suspended, $"{fiber} is parked");

    /// <summary>Advances the clock on a thread-pool thread: what falls due runs there, inline, before this completes.</summary>
    public static Task AdvanceAsync(this FakeTimeProvider clock, TimeSpan by) =>
        Task.Run(() => clock.Advance(by)).DefaultTimeout();

    /// <summary>Waits for every fiber to park, then advances the clock.</summary>
    public static async Task AdvanceWhenParkedAsync(this FakeTimeProvider clock, TimeSpan by, params Func<Fiber?>[] fibers)
    {
        await ParkedAsync(fibers);
        await clock.AdvanceAsync(by);
    }
}
