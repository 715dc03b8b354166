namespace FiberManager.Core.Management;

/// <summary>
/// Restart on failure: up to <see cref="MaxRestarts"/> times, after an exponential backoff from
/// <see cref="InitialBackoff"/> capped at <see cref="MaxBackoff"/> (the schedule comes from
/// Polly.Core). The id, the input queue and the output hub survive a restart.
/// </summary>
/// <example><code>var policy = RestartPolicy.OnFailure(maxRestarts: 3, initialBackoff: TimeSpan.FromSeconds(1));</code></example>
public sealed record RestartPolicy
{
    /// <summary>Never restart (the default).</summary>
    public static RestartPolicy Never { get; } = new();

    /// <summary>How many restarts at most; 0 means never restart.</summary>
    public int MaxRestarts { get; init; }

    /// <summary>The first backoff (default 1 s).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff (default 1 min).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Adds jitter to the backoff (default off, so schedules are predictable).</summary>
    public bool UseJitter { get; init; }

    /// <summary>A policy that restarts on failure.</summary>
    public static RestartPolicy OnFailure(int maxRestarts, TimeSpan? initialBackoff = null, TimeSpan? maxBackoff = null) => new()
    {
        MaxRestarts = maxRestarts,
        InitialBackoff = initialBackoff ?? TimeSpan.FromSeconds(1),
        MaxBackoff = maxBackoff ?? TimeSpan.FromMinutes(1),
    };
}
