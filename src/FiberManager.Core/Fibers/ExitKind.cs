namespace FiberManager.Core.Fibers;

/// <summary>How a fiber ended.</summary>
public enum ExitKind
{
    /// <summary>The fiber's body returned a value.</summary>
    Success,

    /// <summary>The fiber's body threw an exception that was not an answer to an interruption.</summary>
    Failure,

    /// <summary>The fiber was interrupted (by a fiber, a scope, a collection or an external caller) and stopped.</summary>
    Interrupted,
}
