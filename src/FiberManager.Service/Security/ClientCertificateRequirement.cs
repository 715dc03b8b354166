using System.Security.Claims;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Authorization;

namespace FiberManager.Service.Security;

/// <summary>
/// The connection carries a client certificate the certificate authentication handler accepted;
/// or, in mode <see cref="ClientCertificateMode.Allow"/>, none at all (a presented certificate is
/// never ignored).
/// </summary>
internal sealed class ClientCertificateRequirement(ClientCertificateMode mode) : AuthorizationHandler<ClientCertificateRequirement>, IAuthorizationRequirement
{
    public bool IsSatisfiedBy(ClaimsPrincipal user, HttpContext? context)
    {
        foreach (var identity in user.Identities)
        {
            if (identity.IsAuthenticated && identity.AuthenticationType == CertificateAuthenticationDefaults.AuthenticationScheme)
            {
                return true;
            }
        }

        return mode == ClientCertificateMode.Allow && context?.Connection.ClientCertificate is null;
    }

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ClientCertificateRequirement requirement)
    {
        if (requirement.IsSatisfiedBy(context.User, context.Resource as HttpContext))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
