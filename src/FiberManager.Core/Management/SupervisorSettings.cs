namespace FiberManager.Core.Management;

/// <summary>
/// The validated, immutable copy of <see cref="FiberSupervisorOptions"/> a supervisor and its
/// fibers run on (<see cref="FiberSupervisorOptions.ToSettings"/>): nothing can change it after
/// the supervisor was created. See <see cref="FiberSupervisorOptions"/> for what each value means.
/// </summary>
internal sealed record SupervisorSettings
{
    public required int MaxConcurrentFibers { get; init; }

    public required int DefaultInputCapacity { get; init; }

    public required int MaxInputCapacity { get; init; }

    public required int ReplayCapacity { get; init; }

    public required int SubscriberBufferCapacity { get; init; }

    public required TimeSpan InterruptGracePeriod { get; init; }

    public required TimeSpan TerminateHookTimeout { get; init; }

    public required TimeSpan DefaultPermitTimeout { get; init; }

    public required int MaxPendingFibers { get; init; }

    public required TimeSpan RetentionPeriod { get; init; }

    public required int RetentionMaxCount { get; init; }

    public required int SubmitIdMemory { get; init; }

    public required int MaxLabels { get; init; }

    public required int MaxPageSize { get; init; }
}
