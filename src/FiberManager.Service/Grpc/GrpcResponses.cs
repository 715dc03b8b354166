using FiberManager.Protocol;
using Google.Rpc;
using Microsoft.AspNetCore.Http;

namespace FiberManager.Service.Grpc;

/// <summary>How statuses and non-gRPC answers are written.</summary>
internal static class GrpcResponses
{
    private static readonly string[] s_statusCodeStrings =
        [.. Enumerable.Range(0, 17).Select(i => GrpcHeaders.FormatStatusCode((GrpcStatusCode)i))];

    /// <summary>
    /// Sets the call's status: in the response headers (trailers-only) when no message was
    /// written, otherwise in the trailers.
    /// </summary>
    public static void SetStatus(HttpContext http, GrpcCallContext call, GrpcStatusCode code, string message, ErrorInfo? errorInfo)
    {
        var response = http.Response;
        var codeText = (int)code < s_statusCodeStrings.Length ? s_statusCodeStrings[(int)code] : GrpcHeaders.FormatStatusCode(code);
        if (!call.MessageWritten && !response.HasStarted)
        {
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = GrpcHeaders.ContentTypeGrpc;
            response.Headers[GrpcHeaders.Status] = codeText;
            if (message.Length > 0)
            {
                response.Headers[GrpcHeaders.Message] = GrpcStatusMessage.Encode(message);
            }

            if (errorInfo is not null)
            {
                response.Headers[GrpcHeaders.StatusDetailsBin] = GrpcStatusDetails.Encode(code, message, errorInfo);
            }

            return;
        }

        if (!response.SupportsTrailers())
        {
            return;
        }

        response.AppendTrailer(GrpcHeaders.Status, codeText);
        if (message.Length > 0)
        {
            response.AppendTrailer(GrpcHeaders.Message, GrpcStatusMessage.Encode(message));
        }

        if (errorInfo is not null)
        {
            response.AppendTrailer(GrpcHeaders.StatusDetailsBin, GrpcStatusDetails.Encode(code, message, errorInfo));
        }
    }

    /// <summary>A call on a path no service serves: UNIMPLEMENTED, trailers-only.</summary>
    public static Task UnimplementedAsync(HttpContext http, string? service)
    {
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = GrpcHeaders.ContentTypeGrpc;
        http.Response.Headers[GrpcHeaders.Status] = GrpcHeaders.FormatStatusCode(GrpcStatusCode.Unimplemented);
        http.Response.Headers[GrpcHeaders.Message] = GrpcStatusMessage.Encode(
            service is null ? $"Method {http.Request.Path} is unimplemented." : $"Service {service} is unimplemented.");
        return Task.CompletedTask;
    }

    /// <summary>gRPC needs HTTP/2: answer an HTTP/1.x request with 426 and an INTERNAL status.</summary>
    public static Task RejectProtocolAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
        http.Response.Headers.Connection = "Upgrade";
        http.Response.Headers.Upgrade = "HTTP/2";
        http.Response.Headers[GrpcHeaders.Status] = GrpcHeaders.FormatStatusCode(GrpcStatusCode.Internal);
        http.Response.Headers[GrpcHeaders.Message] = GrpcStatusMessage.Encode($"Request protocol '{http.Request.Protocol}' is not supported: gRPC needs HTTP/2.");
        return Task.CompletedTask;
    }

    /// <summary>A request to a gRPC path without a gRPC content type: 415, as the gRPC spec asks.</summary>
    public static Task RejectContentTypeAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
        http.Response.Headers[GrpcHeaders.Status] = GrpcHeaders.FormatStatusCode(GrpcStatusCode.Internal);
        http.Response.Headers[GrpcHeaders.Message] = GrpcStatusMessage.Encode($"Content-Type '{http.Request.ContentType}' is not supported: use application/grpc.");
        return Task.CompletedTask;
    }
}
