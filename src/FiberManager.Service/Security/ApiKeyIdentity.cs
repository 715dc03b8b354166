using System.Security.Claims;
using FiberManager.Service.Hosting;

namespace FiberManager.Service.Security;

/// <summary>The API key a call was authenticated with: its name (the owner of the fibers it starts), permissions and fiber cap.</summary>
/// <param name="Name">The key's configured name (never the secret).</param>
/// <param name="Permissions">What the key may do.</param>
/// <param name="MaxFibers">The most live fibers the key's Starts may hold (0: no limit).</param>
internal sealed record ApiKeyCaller(string Name, ApiKeyPermissions Permissions, int MaxFibers);

/// <summary>
/// The identity <see cref="ApiKeyAuthenticationHandler"/> gives a caller with a valid key: the
/// key's name as <see cref="ClaimTypes.Name"/>, one <see cref="ClaimTypes.Role"/> claim per
/// permission, and the <see cref="ApiKeyCaller"/> itself for the service (owner, fiber cap).
/// </summary>
internal sealed class ApiKeyIdentity : ClaimsIdentity
{
    public ApiKeyIdentity(ApiKeyCaller caller)
        : base(ClaimsOf(caller), ApiKeyAuthenticationHandler.SchemeName)
    {
        Caller = caller;
    }

    public ApiKeyCaller Caller { get; }

    /// <summary>The API key of <paramref name="user"/>, or null (keys are off, or the call is not authenticated by one).</summary>
    public static ApiKeyCaller? Of(ClaimsPrincipal? user)
    {
        if (user is null)
        {
            return null;
        }

        foreach (var identity in user.Identities)
        {
            if (identity is ApiKeyIdentity key)
            {
                return key.Caller;
            }
        }

        return null;
    }

    private static IEnumerable<Claim> ClaimsOf(ApiKeyCaller caller)
    {
        yield return new Claim(ClaimTypes.Name, caller.Name);
        foreach (var permission in new[] { ApiKeyPermissions.Read, ApiKeyPermissions.Control })
        {
            if ((caller.Permissions & permission) != 0)
            {
                yield return new Claim(ClaimTypes.Role, permission.ToString());
            }
        }
    }
}
