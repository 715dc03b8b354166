using System.Globalization;

namespace FiberManager.Protocol;

/// <summary>
/// Header names and values of gRPC over HTTP/2, and the helpers that read and write the small ones.
/// </summary>
/// <remarks>
/// HTTP/2 header names are lower case on the wire; the constants are lower case so they can be
/// compared ordinally. Values of headers whose name ends in <c>-bin</c> are base64.
/// </remarks>
public static class GrpcHeaders
{
    /// <summary>The <c>content-type</c> header name.</summary>
    public const string ContentType = "content-type";

    /// <summary>The gRPC content type, protobuf implied. What FiberManager sends.</summary>
    public const string ContentTypeGrpc = "application/grpc";

    /// <summary>The gRPC content type with the protobuf subtype spelled out; accepted like <see cref="ContentTypeGrpc"/>.</summary>
    public const string ContentTypeGrpcProto = "application/grpc+proto";

    /// <summary>The trailer (or trailers-only header) carrying the numeric status code.</summary>
    public const string Status = "grpc-status";

    /// <summary>The trailer carrying the percent-encoded status message (see <see cref="GrpcStatusMessage"/>).</summary>
    public const string Message = "grpc-message";

    /// <summary>The request header carrying the call's timeout (see <see cref="GrpcTimeout"/>).</summary>
    public const string Timeout = "grpc-timeout";

    /// <summary>The header naming the compression of messages whose compressed flag is set.</summary>
    public const string Encoding = "grpc-encoding";

    /// <summary>The header listing the message encodings the sender accepts.</summary>
    public const string AcceptEncoding = "grpc-accept-encoding";

    /// <summary>The trailer carrying a base64 <c>google.rpc.Status</c> (see <see cref="GrpcStatusDetails"/>).</summary>
    public const string StatusDetailsBin = "grpc-status-details-bin";

    /// <summary>The <c>te</c> request header; gRPC clients send <see cref="TeTrailers"/>.</summary>
    public const string TE = "te";

    /// <summary>The value of the <c>te</c> header a gRPC request carries.</summary>
    public const string TeTrailers = "trailers";

    /// <summary>
    /// The only message encoding FiberManager supports: no compression. Sent as
    /// <c>grpc-accept-encoding</c>, so well-behaved peers never compress.
    /// </summary>
    public const string IdentityEncoding = "identity";

    private static readonly string[] s_statusCodeText = CreateStatusCodeText();

    /// <summary>
    /// Whether a <c>content-type</c> value is one FiberManager serves: <c>application/grpc</c> or
    /// <c>application/grpc+proto</c>, in any letter case, optionally followed by parameters
    /// (<c>;charset=...</c>). Other subtypes (<c>application/grpc+json</c>) and
    /// <c>application/grpc-web</c> are not.
    /// </summary>
    /// <param name="contentType">The header value; <see langword="null"/> when absent.</param>
    /// <returns><see langword="true"/> for a protobuf gRPC content type.</returns>
    /// <example><code>GrpcHeaders.IsGrpcContentType("application/grpc+proto; charset=utf-8") // true</code></example>
    public static bool IsGrpcContentType(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        ReadOnlySpan<char> mediaType = contentType.AsSpan();
        int semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
        {
            mediaType = mediaType[..semicolon];
        }

        mediaType = mediaType.Trim();
        return mediaType.Equals(ContentTypeGrpc, StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals(ContentTypeGrpcProto, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Formats a status code as the <c>grpc-status</c> value: its decimal number.</summary>
    /// <param name="code">The code.</param>
    /// <returns>For example <c>"5"</c> for <see cref="GrpcStatusCode.NotFound"/>.</returns>
    public static string FormatStatusCode(GrpcStatusCode code)
    {
        int value = (int)code;
        return (uint)value < (uint)s_statusCodeText.Length
            ? s_statusCodeText[value]
            : value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Parses a <c>grpc-status</c> value. A decimal number outside 0–16 is a status this side does
    /// not know and reads as <see cref="GrpcStatusCode.Unknown"/>, as the gRPC spec asks.
    /// </summary>
    /// <param name="value">The header value; <see langword="null"/> when absent.</param>
    /// <param name="code">The parsed code; <see cref="GrpcStatusCode.Unknown"/> when this returns false.</param>
    /// <returns><see langword="false"/> when the value is absent or not a decimal integer.</returns>
    public static bool TryParseStatusCode(string? value, out GrpcStatusCode code)
    {
        if (value is not null
            && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
        {
            code = number <= (int)GrpcStatusCode.Unauthenticated ? (GrpcStatusCode)number : GrpcStatusCode.Unknown;
            return true;
        }

        code = GrpcStatusCode.Unknown;
        return false;
    }

    private static string[] CreateStatusCodeText()
    {
        var text = new string[(int)GrpcStatusCode.Unauthenticated + 1];
        for (int i = 0; i < text.Length; i++)
        {
            text[i] = i.ToString(CultureInfo.InvariantCulture);
        }

        return text;
    }
}
