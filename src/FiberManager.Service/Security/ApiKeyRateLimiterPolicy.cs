using System.Threading.RateLimiting;
using FiberManager.Service.Grpc;
using FiberManager.Service.Hosting;
using Grpc.Core;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Security;

/// <summary>
/// A token bucket per API key (<see cref="SecurityOptions.RateLimit"/>), for ASP.NET Core's rate
/// limiter. It runs after authorization, so only callers with a valid key reach it; a call that
/// finds its key's bucket empty gets RESOURCE_EXHAUSTED at once (no queueing).
/// </summary>
internal sealed class ApiKeyRateLimiterPolicy(IOptions<SecurityOptions> options) : IRateLimiterPolicy<string>
{
    private readonly RateLimitOptions _rate = options.Value.RateLimit;

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = static (rejected, _) =>
    {
        var name = ApiKeyIdentity.Of(rejected.HttpContext.User)?.Name;
        return new ValueTask(TrailersOnlyStatus.WriteAsync(rejected.HttpContext, StatusCode.ResourceExhausted, $"The API key '{name}' is over its rate limit."));
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        ApiKeyIdentity.Of(httpContext.User) is { } caller
            ? RateLimitPartition.GetTokenBucketLimiter(caller.Name, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = _rate.Burst,
                TokensPerPeriod = _rate.PermitsPerPeriod,
                ReplenishmentPeriod = _rate.Period,
                QueueLimit = 0,
                AutoReplenishment = true,
            })
            : RateLimitPartition.GetNoLimiter(string.Empty);
}
