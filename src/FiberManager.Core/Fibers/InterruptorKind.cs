namespace FiberManager.Core.Fibers;

/// <summary>The kind of thing that interrupted a fiber.</summary>
public enum InterruptorKind
{
    /// <summary>Not interrupted.</summary>
    None,

    /// <summary>Code outside the runtime (a direct <see cref="Fiber.Interrupt()"/> call without an interruptor).</summary>
    External,

    /// <summary>A fiber: the parent ending, or a combinator interrupting the losers.</summary>
    Fiber,

    /// <summary>A scope that closed.</summary>
    Scope,

    /// <summary>A <see cref="Collections.FiberSet"/>, <see cref="Collections.FiberMap{TKey}"/> or <see cref="Collections.FiberHandle"/> (clear, remove, replace, close).</summary>
    Collection,
}
