using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Authorization;

namespace FiberManager.Service.Security;

/// <summary>The caller presented an API key (<see cref="ApiKeyAuthenticationHandler"/>) that has <see cref="Permission"/>.</summary>
internal sealed class ApiKeyPermissionRequirement(ApiKeyPermissions permission) : AuthorizationHandler<ApiKeyPermissionRequirement>, IAuthorizationRequirement
{
    public ApiKeyPermissions Permission { get; } = permission;

    public bool IsSatisfiedBy(ApiKeyCaller? caller) => caller is not null && (caller.Permissions & Permission) != 0;

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ApiKeyPermissionRequirement requirement)
    {
        if (requirement.IsSatisfiedBy(ApiKeyIdentity.Of(context.User)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
