namespace FiberManager.Core.Fibers;

/// <summary>The value of a fiber that returns nothing.</summary>
public readonly record struct Unit
{
    /// <summary>The only value.</summary>
    public static Unit Value => default;
}
