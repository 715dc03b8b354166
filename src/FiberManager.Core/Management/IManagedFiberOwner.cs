namespace FiberManager.Core.Management;

/// <summary>
/// The one seam between a <see cref="ManagedFiber{TInput, TOutput}"/> and the supervisor that
/// owns it: the fiber tells its owner when its bookkeeping changes, and never asks it for
/// anything back. Each member is called at most once per fiber, outside the fiber's lock.
/// </summary>
/// <remarks>
/// Ending takes two calls because DESIGN.md fixes the order of a fiber's cleanup (final status,
/// on-terminate hook, terminated event, permit released, moved to retention) and a fiber's owner
/// must see its count fall before the terminated event is published (a client that has seen that
/// event may start another fiber at once): <see cref="OnEnding"/> comes right after the status
/// became final, <see cref="OnEnded"/> after the terminated event.
/// </remarks>
internal interface IManagedFiberOwner<TInput, TOutput>
{
    /// <summary>The permit a pending fiber waited for arrived and it started: it is no longer pending.</summary>
    void OnPermitGranted(ManagedFiber<TInput, TOutput> fiber);

    /// <summary>The fiber's status is final: it no longer counts towards its owner's live fibers.</summary>
    void OnEnding(ManagedFiber<TInput, TOutput> fiber);

    /// <summary>
    /// The fiber's cleanup is done but for the supervisor's part: release its permit when
    /// <paramref name="heldPermit"/>, stop counting it as pending if it never started, and move
    /// it into retention.
    /// </summary>
    void OnEnded(ManagedFiber<TInput, TOutput> fiber, bool heldPermit);
}
