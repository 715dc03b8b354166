using System.Runtime.CompilerServices;

namespace FiberManager.Core.Tests.Testing;

/// <summary>
/// Checks that objects are no longer reachable: what a leaked registration (a scope keeping a
/// finalizer for a child or a collection that closed on its own) would make observable.
/// </summary>
public static class Retention
{
    /// <summary>Runs <paramref name="create"/> in a frame of its own and returns weak references to what it made.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static async Task<WeakReference[]> TrackAsync(Func<Func<object, object>, Task> create)
    {
        var tracked = new List<WeakReference>();
        await create(target =>
        {
            tracked.Add(new WeakReference(target));
            return target;
        });
        return [.. tracked];
    }

    /// <summary>Asserts that every tracked object has been collected.</summary>
    public static void AssertAllCollected(WeakReference[] tracked, string what)
    {
        Assert.NotEmpty(tracked);
        for (var attempt = 0; attempt < 3; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        var alive = tracked.Count(w => w.IsAlive);
        Assert.True(alive == 0, $"{alive} of {tracked.Length} {what} are still reachable.");
    }
}
