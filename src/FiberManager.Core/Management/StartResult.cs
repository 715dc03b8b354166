namespace FiberManager.Core.Management;

/// <summary>The result of Start.</summary>
/// <param name="Fiber">The fiber (new, or existing with <see cref="IdConflictPolicy.UseExisting"/> or a repeated request id).</param>
/// <param name="Created">False when an existing fiber was returned.</param>
public sealed record StartResult(FiberInfo Fiber, bool Created);
