using System.Globalization;
using System.Text;
using Grpc.Core;

namespace FiberManager.Service.Grpc;

/// <summary>
/// Answers a request with a gRPC status and no message (a "trailers-only" response: the status
/// travels in the response headers), from ASP.NET Core code that runs before or instead of a gRPC
/// endpoint: the security layer refusing a caller before its request is read, and requests no
/// gRPC endpoint serves.
/// </summary>
/// <remarks>
/// grpc-dotnet writes statuses only for calls its endpoints handle, and has no public API for
/// this; the format is the gRPC over HTTP/2 specification's.
/// </remarks>
internal static class TrailersOnlyStatus
{
    /// <summary>Sets HTTP 200, <c>content-type: application/grpc</c>, <c>grpc-status</c> and <c>grpc-message</c>.</summary>
    public static Task WriteAsync(HttpContext context, StatusCode code, string message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>grpc-message</c> is percent-encoded UTF-8: bytes outside printable ASCII, and <c>%</c>
    /// itself, become <c>%XX</c>.
    /// </summary>
    private static string PercentEncode(string message)
    {
        if (!message.AsSpan().ContainsAnyExceptInRange(' ', '~') && !message.Contains('%', StringComparison.Ordinal))
        {
            return message;
        }

        var encoded = new StringBuilder(message.Length * 2);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return encoded.ToString();
    }
}
