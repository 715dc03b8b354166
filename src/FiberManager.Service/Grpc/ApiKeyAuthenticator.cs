using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using FiberManager.Protocol;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Http;

namespace FiberManager.Service.Grpc;

/// <summary>
/// Checks a call's API key before its method runs: missing or unknown key UNAUTHENTICATED, a key
/// without the permission the method needs PERMISSION_DENIED, a key over its rate limit
/// RESOURCE_EXHAUSTED. Health and reflection stay open.
/// </summary>
/// <remarks>
/// Keys are compared as SHA-256 digests with <see cref="CryptographicOperations.FixedTimeEquals"/>,
/// so neither the content nor the length of a configured key leaks through timing; every
/// configured key is compared on every call.
/// </remarks>
internal sealed class ApiKeyAuthenticator : IDisposable
{
    private const string BearerPrefix = "Bearer ";
    private const string ApiKeyHeader = "x-api-key";

    private readonly (byte[] Digest, ApiKeyCaller Caller)[] _keys;
    private readonly PartitionedRateLimiter<string>? _limiter;

    public ApiKeyAuthenticator(SecurityOptions options)
    {
        _keys = [.. options.ApiKeys.Select(k => (Digest(k.Key), new ApiKeyCaller(k.Name, k.Permissions, k.MaxFibers)))];
        var rate = options.RateLimit;
        if (rate.Burst > 0)
        {
            _limiter = PartitionedRateLimiter.Create<string, string>(name => RateLimitPartition.GetTokenBucketLimiter(name, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = rate.Burst,
                TokensPerPeriod = rate.PermitsPerPeriod,
                ReplenishmentPeriod = rate.Period,
                QueueLimit = 0,
                AutoReplenishment = true,
            }));
        }
    }

    /// <summary>True when keys are configured.</summary>
    public bool Enabled => _keys.Length > 0;

    /// <summary>Throws the status that refuses the call, if any; otherwise returns the caller's key (null when keys are off or the method is open).</summary>
    public ApiKeyCaller? Authorize(HttpContext http, string method)
    {
        if (!Enabled || IsOpen(method))
        {
            return null;
        }

        var presented = PresentedKey(http.Request.Headers)
            ?? throw new GrpcStatusException(GrpcStatusCode.Unauthenticated, "An API key is required: send 'authorization: Bearer <key>' or 'x-api-key'.");
        var digest = Digest(presented);
        int match = -1;
        for (int i = 0; i < _keys.Length; i++)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, _keys[i].Digest))
            {
                match = i;
            }
        }

        if (match < 0)
        {
            throw new GrpcStatusException(GrpcStatusCode.Unauthenticated, "The API key is not valid.");
        }

        var caller = _keys[match].Caller;
        var (name, permissions) = (caller.Name, caller.Permissions);
        var needed = IsControl(method) ? ApiKeyPermissions.Control : ApiKeyPermissions.Read;
        if ((permissions & needed) == 0)
        {
            throw new GrpcStatusException(GrpcStatusCode.PermissionDenied, $"The API key '{name}' does not have the {needed} permission {method} needs.");
        }

        if (_limiter is not null)
        {
            using var lease = _limiter.AttemptAcquire(name);
            if (!lease.IsAcquired)
            {
                throw new GrpcStatusException(GrpcStatusCode.ResourceExhausted, $"The API key '{name}' is over its rate limit.");
            }
        }

        return caller;
    }

    public void Dispose() => _limiter?.Dispose();

    /// <summary>Health and reflection: open to every caller (probes and grpcurl need them).</summary>
    internal static bool IsOpen(string method) =>
        method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal)
        || method.StartsWith("/grpc.reflection.", StringComparison.Ordinal);

    private static bool IsControl(string method) => method switch
    {
        "/fibermanager.v1.FiberManager/Start" or "/fibermanager.v1.FiberManager/Submit" or "/fibermanager.v1.FiberManager/Pause"
            or "/fibermanager.v1.FiberManager/Resume" or "/fibermanager.v1.FiberManager/Interrupt" => true,
        _ => false,
    };

    private static string? PresentedKey(IHeaderDictionary headers)
    {
        var authorization = headers.Authorization.ToString();
        if (authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) && authorization.Length > BearerPrefix.Length)
        {
            return authorization[BearerPrefix.Length..].Trim();
        }

        var apiKey = headers[ApiKeyHeader].ToString();
        return apiKey.Length > 0 ? apiKey : null;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>The API key a call was authorized with: its name (the owner of the fibers it starts), permissions and fiber cap.</summary>
internal sealed record ApiKeyCaller(string Name, ApiKeyPermissions Permissions, int MaxFibers);
