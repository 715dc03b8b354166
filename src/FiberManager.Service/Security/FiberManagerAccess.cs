using FiberManager.Service.Hosting;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Security;

/// <summary>
/// Who may call which FiberManager method, on ASP.NET Core's own mechanisms: the authorization
/// policies <see cref="ReadPolicy"/> and <see cref="ControlPolicy"/> (an API key with the
/// permission, and/or an acceptable client certificate), put on each method's endpoint, and the
/// per-key rate limit. Health and reflection carry no policy: they stay open.
/// </summary>
/// <remarks>
/// With neither API keys nor client certificates configured, the endpoints get no authorization
/// or rate-limiting metadata at all, so an open server pays nothing for the machinery.
/// </remarks>
internal static class FiberManagerAccess
{
    /// <summary>GetStatus, ListFibers, ListWorkflows, Subscribe.</summary>
    public const string ReadPolicy = "FiberManager.Read";

    /// <summary>Start, Submit, Pause, Resume, Interrupt.</summary>
    public const string ControlPolicy = "FiberManager.Control";

    /// <summary>The rate-limiting policy: a token bucket per API key (<see cref="ApiKeyRateLimiterPolicy"/>).</summary>
    public const string RateLimitPolicy = "FiberManager.ApiKey";

    /// <summary>The permission a FiberManager method needs.</summary>
    public static ApiKeyPermissions PermissionFor(string method) => method switch
    {
        "Start" or "Submit" or "Pause" or "Resume" or "Interrupt" => ApiKeyPermissions.Control,
        _ => ApiKeyPermissions.Read,
    };

    /// <summary>Defines the two policies from the options (schemes and requirements of what is switched on).</summary>
    public static void AddPolicies(AuthorizationOptions authorization, SecurityOptions security, ServerOptions server)
    {
        foreach (var (name, permission) in new[] { (ReadPolicy, ApiKeyPermissions.Read), (ControlPolicy, ApiKeyPermissions.Control) })
        {
            authorization.AddPolicy(name, policy =>
            {
                // The certificate first: with both on, a refused caller hears about its certificate.
                if (server.ClientCertificateMode != ClientCertificateMode.None)
                {
                    policy.AddAuthenticationSchemes(CertificateAuthenticationDefaults.AuthenticationScheme);
                    policy.AddRequirements(new ClientCertificateRequirement(server.ClientCertificateMode));
                }

                if (security.ApiKeys.Count > 0)
                {
                    policy.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName);
                    policy.AddRequirements(new ApiKeyPermissionRequirement(permission));
                }

                if (policy.Requirements.Count == 0)
                {
                    policy.RequireAssertion(static _ => true);
                }
            });
        }
    }

    /// <summary>
    /// The endpoint convention of the FiberManager service: each method's endpoint gets its
    /// policy, and the per-key rate limit when one is configured; nothing when security is off.
    /// </summary>
    public static void Apply(EndpointBuilder endpoint)
    {
        if (endpoint.Metadata.OfType<GrpcMethodMetadata>().FirstOrDefault() is not { } grpc)
        {
            return;
        }

        var security = endpoint.ApplicationServices.GetRequiredService<IOptions<SecurityOptions>>().Value;
        var server = endpoint.ApplicationServices.GetRequiredService<IOptions<ServerOptions>>().Value;
        if (security.ApiKeys.Count == 0 && server.ClientCertificateMode == ClientCertificateMode.None)
        {
            return;
        }

        endpoint.Metadata.Add(new AuthorizeAttribute(PermissionFor(grpc.Method.Name) == ApiKeyPermissions.Control ? ControlPolicy : ReadPolicy));
        if (security.ApiKeys.Count > 0 && security.RateLimit.Burst > 0)
        {
            endpoint.Metadata.Add(new EnableRateLimitingAttribute(RateLimitPolicy));
        }
    }
}
