using Grpc.Core;

namespace FiberManager.Service.Grpc;

/// <summary>
/// The answer to a request no endpoint serves. grpc-dotnet itself answers every
/// <c>/service/method</c> path it does not know with UNIMPLEMENTED; this covers the rest: a gRPC
/// request to any other path gets UNIMPLEMENTED too, and a plain HTTP request a short text
/// (200 on <c>/</c>, 404 elsewhere) saying what the server speaks.
/// </summary>
internal static class UnroutedRequests
{
    public static Task AnswerAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (context.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            return TrailersOnlyStatus.WriteAsync(context, StatusCode.Unimplemented, $"Method {path} is unimplemented.");
        }

        context.Response.StatusCode = path == "/" ? StatusCodes.Status200OK : StatusCodes.Status404NotFound;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("FiberManager speaks gRPC over HTTP/2 (service fibermanager.v1.FiberManager). Use a gRPC client, grpcurl or buf curl.\n");
    }
}
