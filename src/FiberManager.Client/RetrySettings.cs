using System.Diagnostics;

namespace FiberManager.Client;

/// <summary>An immutable copy of <see cref="FiberManagerRetryOptions"/>.</summary>
internal sealed record RetrySettings(int MaxRetries, TimeSpan InitialBackoff, TimeSpan MaxBackoff)
{
    public static RetrySettings From(FiberManagerRetryOptions options) => new(options.MaxRetries, options.InitialBackoff, options.MaxBackoff);

    /// <summary>
    /// The wait before retry <paramref name="retry"/> (1: the first): a random time up to
    /// <see cref="InitialBackoff"/> × 2^(retry − 1), and never more than <see cref="MaxBackoff"/>
    /// (the same "full jitter" as grpc-dotnet's retry policy with a multiplier of 2).
    /// </summary>
    public TimeSpan BackoffBefore(int retry)
    {
        Debug.Assert(retry >= 1, "Retries are numbered from 1.");
        var ceiling = Math.Min(MaxBackoff.Ticks, InitialBackoff.Ticks * Math.Pow(2, Math.Min(retry - 1, 62)));
        return TimeSpan.FromTicks((long)(ceiling * Random.Shared.NextDouble()));
    }
}
