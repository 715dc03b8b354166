namespace FiberManager.Service.Hosting;

/// <summary>What an API key may do.</summary>
[Flags]
public enum ApiKeyPermissions
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>GetStatus, ListFibers, ListWorkflows, Subscribe.</summary>
    Read = 1,

    /// <summary>Start, Submit, Pause, Resume, Interrupt.</summary>
    Control = 2,
}

/// <summary>One API key, bound from <c>FiberManager:Security:ApiKeys:&lt;n&gt;</c>.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The secret the client sends (<c>authorization: Bearer &lt;key&gt;</c> or <c>x-api-key</c>); at least 16 characters.</summary>
    public string Key { get; set; } = string.Empty;

    /// <summary>A name for logs and for the per-key rate limit (never the key itself).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary><c>Read</c>, <c>Control</c> or <c>Read, Control</c> (default Read).</summary>
    public ApiKeyPermissions Permissions { get; set; } = ApiKeyPermissions.Read;

    /// <summary>
    /// The most live (not ended) fibers Starts with this key may hold at once (default 0: no
    /// limit). One more Start gets RESOURCE_EXHAUSTED with reason <c>API_KEY_FIBER_LIMIT_REACHED</c>.
    /// </summary>
    public int MaxFibers { get; set; }
}

/// <summary>A token bucket per API key.</summary>
public sealed class RateLimitOptions
{
    /// <summary>The bucket size: calls a key may make in a burst (default 0: no rate limit).</summary>
    public int Burst { get; set; }

    /// <summary>Tokens added per <see cref="Period"/> (default 100).</summary>
    public int PermitsPerPeriod { get; set; } = 100;

    /// <summary>The replenishment period (default 1 s).</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Authentication and rate limiting, bound from <c>FiberManager:Security</c>. Off by default:
/// with no API keys configured every call is allowed. Health and reflection always stay open.
/// </summary>
public sealed class SecurityOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "FiberManager:Security";

    /// <summary>The accepted keys; empty (default) turns authentication off.</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>The per-key rate limit (off unless <see cref="RateLimitOptions.Burst"/> &gt; 0).</summary>
    public RateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Every problem with the options (empty when valid).</summary>
    public IReadOnlyList<string> GetErrors()
    {
        var errors = new List<string>();
        for (int i = 0; i < ApiKeys.Count; i++)
        {
            var key = ApiKeys[i];
            if (key.Key.Length < 16)
            {
                errors.Add($"{Section}:ApiKeys:{i}:Key must be at least 16 characters.");
            }

            if (string.IsNullOrWhiteSpace(key.Name))
            {
                errors.Add($"{Section}:ApiKeys:{i}:Name must be set.");
            }

            if (key.Permissions == ApiKeyPermissions.None)
            {
                errors.Add($"{Section}:ApiKeys:{i}:Permissions must be Read, Control or both.");
            }

            if (key.MaxFibers < 0)
            {
                errors.Add($"{Section}:ApiKeys:{i}:MaxFibers must be 0 (no limit) or more (got {key.MaxFibers}).");
            }
        }

        if (ApiKeys.Select(k => k.Name).Distinct(StringComparer.Ordinal).Count() != ApiKeys.Count)
        {
            errors.Add($"{Section}:ApiKeys names must be unique.");
        }

        if (RateLimit.Burst < 0 || RateLimit.PermitsPerPeriod < 1 || RateLimit.Period <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:RateLimit needs Burst >= 0, PermitsPerPeriod >= 1 and a positive Period.");
        }

        return errors;
    }
}
