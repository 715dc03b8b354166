namespace FiberManager.Client;

/// <summary>
/// Bounded retries with exponential backoff: before a retry the client waits a random time of up
/// to <see cref="InitialBackoff"/>, before the next one up to twice that, and so on, never more than
/// <see cref="MaxBackoff"/> (random, so that many clients do not retry in step); after
/// <see cref="MaxRetries"/> retries it gives up with the last attempt's error.
/// </summary>
/// <example><code>
/// services.AddFiberManagerClient(o =>
/// {
///     o.Retry.MaxRetries = 2;                                  // Start/Submit with ids: 3 attempts at most
///     o.SubscribeResume.MaxBackoff = TimeSpan.FromSeconds(10); // a restarting server gets more time
/// });
/// </code></example>
public sealed class FiberManagerRetryOptions
{
    /// <summary>Retries after the first attempt (0: no retries; defaults on <see cref="FiberManagerClientOptions.Retry"/> and <see cref="FiberManagerClientOptions.SubscribeResume"/>).</summary>
    public int MaxRetries { get; set; } = 4;

    /// <summary>The longest wait before the first retry.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait before any retry.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    internal IEnumerable<string> GetErrors(string name)
    {
        if (MaxRetries is < 0 or > 100)
        {
            yield return $"{name}.MaxRetries must be between 0 and 100 (got {MaxRetries}).";
        }

        if (InitialBackoff <= TimeSpan.Zero || InitialBackoff > TimeSpan.FromHours(1))
        {
            yield return $"{name}.InitialBackoff must be positive and at most an hour (got {InitialBackoff}).";
        }

        if (MaxBackoff < InitialBackoff || MaxBackoff > TimeSpan.FromHours(1))
        {
            yield return $"{name}.MaxBackoff must be at least InitialBackoff and at most an hour (got {MaxBackoff}).";
        }
    }
}
