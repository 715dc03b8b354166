using FiberManager.Service.Grpc;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace FiberManager.Service.Security;

/// <summary>
/// Answers a refused gRPC call with a gRPC status instead of HTTP 401/403, before its request
/// message is read: UNAUTHENTICATED when the client certificate or the API key is missing or not
/// acceptable (the certificate is checked first), PERMISSION_DENIED when the key lacks the
/// method's permission. Other endpoints get ASP.NET Core's default handling.
/// </summary>
internal sealed class GrpcAuthorizationResultHandler(ClientCertificateVerdicts certificates) : IAuthorizationMiddlewareResultHandler
{
    /// <summary>What a caller without an API key is told.</summary>
    public const string KeyRequiredMessage = "An API key is required: send 'authorization: Bearer <key>' or 'x-api-key'.";

    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded || context.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not { } grpc)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
            return;
        }

        foreach (var requirement in policy.Requirements)
        {
            switch (requirement)
            {
                case ClientCertificateRequirement certificate when !certificate.IsSatisfiedBy(context.User, context):
                    await TrailersOnlyStatus.WriteAsync(context, StatusCode.Unauthenticated, certificates.DescribeRefusal(context)).ConfigureAwait(false);
                    return;

                case ApiKeyPermissionRequirement permission when !permission.IsSatisfiedBy(ApiKeyIdentity.Of(context.User)):
                    if (ApiKeyIdentity.Of(context.User) is { } caller)
                    {
                        await TrailersOnlyStatus.WriteAsync(
                            context,
                            StatusCode.PermissionDenied,
                            $"The API key '{caller.Name}' does not have the {permission.Permission} permission {grpc.Method.FullName} needs.").ConfigureAwait(false);
                        return;
                    }

                    // The handler's verdict is cached for the request: this does not authenticate twice.
                    var key = await context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName).ConfigureAwait(false);
                    await TrailersOnlyStatus.WriteAsync(context, StatusCode.Unauthenticated, key.Failure?.Message ?? KeyRequiredMessage).ConfigureAwait(false);
                    return;
            }
        }

        await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
    }
}
