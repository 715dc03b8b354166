using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Security;

/// <summary>The API-key scheme has no options of its own: the keys are <see cref="SecurityOptions.ApiKeys"/>.</summary>
internal sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions;

/// <summary>
/// Authenticates a call by its API key, sent as <c>authorization: Bearer &lt;key&gt;</c> or
/// <c>x-api-key: &lt;key&gt;</c>: no key is no result, an unknown key a failure ("The API key is
/// not valid."), a known one an <see cref="ApiKeyIdentity"/>. Whether the key may call the method
/// is the authorization policy's business (<see cref="FiberManagerAccess"/>).
/// </summary>
/// <remarks>
/// ASP.NET Core has no API-key handler of its own, hence this one. Keys are compared as SHA-256
/// digests with <see cref="CryptographicOperations.FixedTimeEquals"/>, and every configured key is
/// compared on every call, so neither the content nor the length of a configured key leaks
/// through timing.
/// </remarks>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyTable keys)
    : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The failure message of an unknown key.</summary>
    public const string InvalidKeyMessage = "The API key is not valid.";

    private const string BearerPrefix = "Bearer ";
    private const string ApiKeyHeader = "x-api-key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (PresentedKey(Request.Headers) is not { } presented)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (keys.Find(presented) is not { } caller)
        {
            return Task.FromResult(AuthenticateResult.Fail(InvalidKeyMessage));
        }

        var ticket = new AuthenticationTicket(new ClaimsPrincipal(new ApiKeyIdentity(caller)), Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(ticket));
    }

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
}

/// <summary>The configured API keys, as digests, with the caller each stands for.</summary>
internal sealed class ApiKeyTable(IOptions<SecurityOptions> options)
{
    private readonly (byte[] Digest, ApiKeyCaller Caller)[] _keys =
        [.. options.Value.ApiKeys.Select(k => (Digest(k.Key), new ApiKeyCaller(k.Name, k.Permissions, k.MaxFibers)))];

    /// <summary>The caller whose key is <paramref name="presented"/>, or null; constant time in the key's content.</summary>
    public ApiKeyCaller? Find(string presented)
    {
        var digest = Digest(presented);
        ApiKeyCaller? match = null;
        foreach (var (candidate, caller) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, candidate))
            {
                match = caller;
            }
        }

        return match;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
