using System.Diagnostics;

namespace FiberManager.Core.Fibers;

/// <summary>An uninterruptible region; dispose it to end the region.</summary>
/// <example><code>using (ctx.Uninterruptible()) { /* an interrupt waits until here */ }</code></example>
[DebuggerDisplay("{_fiber == null ? \"ended\" : \"open\",nq}")]
public struct UninterruptibleRegion : IDisposable
{
    private Fiber? _fiber;

    internal UninterruptibleRegion(Fiber fiber) => _fiber = fiber;

    /// <summary>Ends the region; a pending interruption takes effect now.</summary>
    public void Dispose()
    {
        var fiber = _fiber;
        _fiber = null;
        fiber?.ExitUninterruptible();
    }
}
