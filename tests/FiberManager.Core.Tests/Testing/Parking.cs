using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
namespace FiberManager.Core.Tests.Testing;

/// <summary>Sync points for "the fibers have parked", so a test never advances the clock ahead of a fiber.</summary>
/// <remarks>
/// <see cref="ManualTimeProvider.WaitForTimersAsync"/> completes as soon as a timer is created, inside
/// <c>Task.Delay</c>, before the fiber has awaited it; and <see cref="FiberStatus.Suspended"/> is set
/// right before the innermost await, before the awaits up the fiber's call chain are registered. A timer
/// fired in either window completes a task nobody awaits yet, so the fiber resumes later on its own
/// thread instead of inline in <see cref="ManualTimeProvider.Advance"/>, racing the next timer.
/// A fiber is parked once it is Suspended and has given its first thread back
/// (<c>Fiber.HasYielded</c>); after that, timers resume it inline and it re-parks inline too.
/// Waiting for the timer count before every advance also covers fibers resumed off the test thread.
/// </remarks>
public static class Parking
{
    /// <summary>Completes once <paramref name="timers"/> timers are scheduled and every fiber is assigned and suspended.</summary>
    public static async Task ParkedAsync(this ManualTimeProvider clock, int timers, params Func<Fiber?>[] fibers)
    {
        await clock.WaitForTimersAsync(timers).DefaultTimeout();
        await TestTimeouts.UntilAsync(
            () => fibers.All(f => f() is { Status: FiberStatus.Suspended }),
            $"{fibers.Length} fiber(s) are suspended");
    }

    /// <summary>Waits for every fiber to park, then advances the clock.</summary>
    public static async Task AdvanceWhenParkedAsync(this ManualTimeProvider clock, TimeSpan by, int timers, params Func<Fiber?>[] fibers)
    {
        await clock.ParkedAsync(timers, fibers);
        clock.Advance(by);
    }

    /// <summary>
    /// Completes once <paramref name="fiber"/> is suspended and has given its first thread back: for a
    /// fiber whose first await is a runtime wait, every await up its chain is registered, so an
    /// interruption from a thread with no SynchronizationContext runs its continuation (its finally) inline.
    /// </summary>
    public static Task ParkedAsync(this Fiber fiber) =>
        TestTimeouts.UntilAsync(() => fiber.Status == FiberStatus.Suspended, $"{fiber} is parked");

    /// <summary>Completes once <paramref name="fiber"/> reports <see cref="FiberStatus.Suspended"/>.</summary>
    public static Task SuspendedAsync(this Fiber fiber) =>
        TestTimeouts.UntilAsync(() => fiber.Status == FiberStatus.Suspended, $"{fiber} is suspended");
}
