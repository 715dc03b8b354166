namespace FiberManager.Core.Management;

/// <summary>Counters of the manager as a whole, for health and invariant checks.</summary>
public readonly record struct FiberSupervisorStatistics(
    int PermitLimit,
    int PermitsInUse,
    int PermitWaiters,
    int LiveFibers,
    int PendingFibers,
    int RetainedFibers,
    long AbandonedFibers,
    bool ShuttingDown);
