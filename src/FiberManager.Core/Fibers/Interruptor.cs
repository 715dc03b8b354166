namespace FiberManager.Core.Fibers;

/// <summary>
/// Who interrupted a fiber: a kind and the runtime id of the fiber, scope or collection.
/// </summary>
/// <example><code>
/// var exit = await fiber.InterruptAsync();
/// Console.WriteLine(exit.Interruptor); // "external"
/// </code></example>
public readonly record struct Interruptor(InterruptorKind Kind, long Id)
{
    /// <summary>No interruption.</summary>
    public static Interruptor None => default;

    /// <summary>An interruption from code outside the runtime.</summary>
    public static Interruptor External => new(InterruptorKind.External, 0);

    // Packed into one long so that "first interruptor wins" is a single compare-exchange.
    internal long Pack() => ((long)Kind << 56) | (Id & 0x00FF_FFFF_FFFF_FFFF);

    internal static Interruptor Unpack(long bits) =>
        bits == 0 ? None : new Interruptor((InterruptorKind)(bits >>> 56), bits & 0x00FF_FFFF_FFFF_FFFF);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        InterruptorKind.None => "none",
        InterruptorKind.External => "external",
        _ => $"{Kind.ToString().ToLowerInvariant()} #{Id}",
    };
}
