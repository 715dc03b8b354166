namespace FiberManager.Core.Management;

/// <summary>
/// Options of a <see cref="FiberSupervisor{TInput, TOutput}"/>. Bound from the
/// <c>FiberManager</c> configuration section by the service; every value has a default.
/// </summary>
/// <remarks>
/// A mutable builder for configuration binding: the supervisor validates it once, in its
/// constructor, and keeps an immutable copy, so changing an options object after the supervisor
/// was created has no effect (the concurrency limit changes at run time through
/// <see cref="FiberSupervisor{TInput, TOutput}.SetConcurrencyLimit"/>).
/// </remarks>
/// <example><code>
/// var options = new FiberSupervisorOptions { MaxConcurrentFibers = 1_000, DefaultInputCapacity = 256 };
/// options.Validate();
/// </code></example>
public sealed class FiberSupervisorOptions
{
    /// <summary>The global concurrency limit: permits, one per running fiber (default 1,000). Resizable at run time.</summary>
    public int MaxConcurrentFibers { get; set; } = 1_000;

    /// <summary>Input queue capacity when Start does not give one (default 64).</summary>
    public int DefaultInputCapacity { get; set; } = 64;

    /// <summary>The largest input capacity a Start may ask for (default 65,536).</summary>
    public int MaxInputCapacity { get; set; } = 65_536;

    /// <summary>Events kept per fiber for late subscribers (default 64).</summary>
    public int ReplayCapacity { get; set; } = 64;

    /// <summary>Events buffered per subscriber before it sees a gap (default 256).</summary>
    public int SubscriberBufferCapacity { get; set; } = 256;

    /// <summary>How long Interrupt waits for a workflow to honour cancellation before abandoning it (default 5 s).</summary>
    public TimeSpan InterruptGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the on-terminate hook may run (default 5 s).</summary>
    public TimeSpan TerminateHookTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long Start with admission Wait waits for a permit when it gives no timeout (default 30 s).</summary>
    public TimeSpan DefaultPermitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many fibers may wait for a permit at once (default 10,000).</summary>
    public int MaxPendingFibers { get; set; } = 10_000;

    /// <summary>How long an ended fiber stays visible to GetStatus, List and Subscribe (default 5 min).</summary>
    public TimeSpan RetentionPeriod { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many ended fibers stay visible at most (default 10,000; the oldest go first).</summary>
    public int RetentionMaxCount { get; set; } = 10_000;

    /// <summary>How many recent submit ids each fiber remembers for de-duplication (default 1,024).</summary>
    public int SubmitIdMemory { get; set; } = 1_024;

    /// <summary>Labels per fiber at most (default 32); keys ≤ 63 and values ≤ 256 characters.</summary>
    public int MaxLabels { get; set; } = 32;

    /// <summary>The largest page List returns (default 1,000).</summary>
    public int MaxPageSize { get; set; } = 1_000;

    /// <summary>Returns every problem with the options (empty when valid).</summary>
    public IReadOnlyList<string> GetErrors()
    {
        var errors = new List<string>();
        void Positive(string name, long value)
        {
            if (value < 1)
            {
                errors.Add($"FiberManager:{name} must be at least 1 (got {value}).");
            }
        }

        void NonNegative(string name, TimeSpan value)
        {
            if (value < TimeSpan.Zero)
            {
                errors.Add($"FiberManager:{name} must not be negative (got {value}).");
            }
        }

        Positive(nameof(MaxConcurrentFibers), MaxConcurrentFibers);
        Positive(nameof(DefaultInputCapacity), DefaultInputCapacity);
        Positive(nameof(MaxInputCapacity), MaxInputCapacity);
        Positive(nameof(SubscriberBufferCapacity), SubscriberBufferCapacity);
        Positive(nameof(MaxPendingFibers), MaxPendingFibers);
        Positive(nameof(RetentionMaxCount), RetentionMaxCount);
        Positive(nameof(MaxPageSize), MaxPageSize);
        if (ReplayCapacity < 0)
        {
            errors.Add($"FiberManager:{nameof(ReplayCapacity)} must not be negative (got {ReplayCapacity}).");
        }

        if (SubmitIdMemory < 0)
        {
            errors.Add($"FiberManager:{nameof(SubmitIdMemory)} must not be negative (got {SubmitIdMemory}).");
        }

        if (MaxLabels < 0)
        {
            errors.Add($"FiberManager:{nameof(MaxLabels)} must not be negative (got {MaxLabels}).");
        }

        if (DefaultInputCapacity > MaxInputCapacity)
        {
            errors.Add($"FiberManager:{nameof(DefaultInputCapacity)} ({DefaultInputCapacity}) must not exceed {nameof(MaxInputCapacity)} ({MaxInputCapacity}).");
        }

        NonNegative(nameof(InterruptGracePeriod), InterruptGracePeriod);
        NonNegative(nameof(TerminateHookTimeout), TerminateHookTimeout);
        NonNegative(nameof(DefaultPermitTimeout), DefaultPermitTimeout);
        NonNegative(nameof(RetentionPeriod), RetentionPeriod);
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = GetErrors();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid fiber manager options: " + string.Join(" ", errors));
        }
    }

    /// <summary>Validates the options and returns the immutable copy a supervisor runs on.</summary>
    internal SupervisorSettings ToSettings()
    {
        Validate();
        return new SupervisorSettings
        {
            MaxConcurrentFibers = MaxConcurrentFibers,
            DefaultInputCapacity = DefaultInputCapacity,
            MaxInputCapacity = MaxInputCapacity,
            ReplayCapacity = ReplayCapacity,
            SubscriberBufferCapacity = SubscriberBufferCapacity,
            InterruptGracePeriod = InterruptGracePeriod,
            TerminateHookTimeout = TerminateHookTimeout,
            DefaultPermitTimeout = DefaultPermitTimeout,
            MaxPendingFibers = MaxPendingFibers,
            RetentionPeriod = RetentionPeriod,
            RetentionMaxCount = RetentionMaxCount,
            SubmitIdMemory = SubmitIdMemory,
            MaxLabels = MaxLabels,
            MaxPageSize = MaxPageSize,
        };
    }
}
