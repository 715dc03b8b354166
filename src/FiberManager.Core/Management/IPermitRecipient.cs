namespace FiberManager.Core.Management;

/// <summary>Whoever waits in a <see cref="PermitPool"/>: told when its permit is granted.</summary>
internal interface IPermitRecipient
{
    /// <summary>
    /// A permit was granted to <paramref name="waiter"/>; called once, outside the pool's lock.
    /// The recipient takes it with <see cref="PermitPool.Waiter.TryClaim"/> (false: it was withdrawn first).
    /// </summary>
    void OnPermitGranted(PermitPool.Waiter waiter);
}
