namespace FiberManager.Core.Management;

/// <summary>Helpers for <see cref="ManagedFiberStatus"/>.</summary>
public static class ManagedFiberStatusExtensions
{
    /// <summary>True for Completed, Failed and Interrupted.</summary>
    /// <example><code>if (info.Status.IsTerminal()) Console.WriteLine(info.Termination);</code></example>
    public static bool IsTerminal(this ManagedFiberStatus status) =>
        status is ManagedFiberStatus.Completed or ManagedFiberStatus.Failed or ManagedFiberStatus.Interrupted;
}
