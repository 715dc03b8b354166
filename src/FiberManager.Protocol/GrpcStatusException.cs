using Google.Rpc;

namespace FiberManager.Protocol;

/// <summary>
/// A gRPC call ended, or must end, with a non-OK status: a code, a message for developers and,
/// for FiberManager's own errors, an <see cref="Google.Rpc.ErrorInfo"/> with the reason.
/// </summary>
/// <remarks>
/// The one exception type of the wire layer. The service throws it (or maps its own exceptions
/// to it) and writes it as <c>grpc-status</c>, <c>grpc-message</c> and
/// <c>grpc-status-details-bin</c>; the client builds it from those trailers.
/// </remarks>
/// <example>
/// <code>
/// throw GrpcStatusException.WithReason(
///     GrpcStatusCode.NotFound, ErrorReasons.FiberNotFound, "No fiber 'chat-42'.",
///     new Dictionary&lt;string, string&gt; { [ErrorMetadataKeys.FiberId] = "chat-42" });
/// </code>
/// </example>
public sealed class GrpcStatusException : Exception
{
    /// <summary>Creates the exception with a status code and a message, without an error reason.</summary>
    /// <param name="statusCode">The status code.</param>
    /// <param name="detail">The status message (sent as <c>grpc-message</c>).</param>
    public GrpcStatusException(GrpcStatusCode statusCode, string detail)
        : this(statusCode, detail, errorInfo: null, innerException: null)
    {
    }

    /// <summary>Creates the exception with a status code, a message and an optional error reason.</summary>
    /// <param name="statusCode">The status code.</param>
    /// <param name="detail">The status message (sent as <c>grpc-message</c>).</param>
    /// <param name="errorInfo">The machine-readable reason; <see langword="null"/> for none.</param>
    /// <param name="innerException">The exception that caused this one, if any (never sent).</param>
    public GrpcStatusException(GrpcStatusCode statusCode, string detail, ErrorInfo? errorInfo, Exception? innerException = null)
        : base(FormatMessage(statusCode, detail, errorInfo), innerException)
    {
        ArgumentNullException.ThrowIfNull(detail);
        StatusCode = statusCode;
        Detail = detail;
        ErrorInfo = errorInfo;
    }

    /// <summary>The status code.</summary>
    public GrpcStatusCode StatusCode { get; }

    /// <summary>The status message, as sent in <c>grpc-message</c> (decoded).</summary>
    public string Detail { get; }

    /// <summary>The error reason, or <see langword="null"/> when the status carried none.</summary>
    public ErrorInfo? ErrorInfo { get; }

    /// <summary>The reason of <see cref="ErrorInfo"/> (one of <see cref="ErrorReasons"/>), or <see langword="null"/>.</summary>
    public string? Reason => ErrorInfo?.Reason;

    /// <summary>
    /// Creates the exception for one of FiberManager's own errors: an <see cref="Google.Rpc.ErrorInfo"/>
    /// with <paramref name="reason"/>, the domain <see cref="ErrorReasons.Domain"/> and the metadata.
    /// </summary>
    /// <param name="statusCode">The status code the reason goes with.</param>
    /// <param name="reason">One of <see cref="ErrorReasons"/>.</param>
    /// <param name="detail">The status message.</param>
    /// <param name="metadata">Structured facts (keys from <see cref="ErrorMetadataKeys"/>), or <see langword="null"/>.</param>
    /// <returns>The exception, ready to throw.</returns>
    public static GrpcStatusException WithReason(
        GrpcStatusCode statusCode,
        string reason,
        string detail,
        IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        var errorInfo = new ErrorInfo { Reason = reason, Domain = ErrorReasons.Domain };
        if (metadata is not null)
        {
            foreach ((string key, string value) in metadata)
            {
                errorInfo.Metadata[key] = value;
            }
        }

        return new GrpcStatusException(statusCode, detail, errorInfo);
    }

    /// <summary>
    /// Rebuilds the exception on the client from a non-OK status's headers or trailers.
    /// </summary>
    /// <param name="statusCode">The code parsed from <c>grpc-status</c> (see <see cref="GrpcHeaders.TryParseStatusCode"/>).</param>
    /// <param name="grpcMessage">The raw, percent-encoded <c>grpc-message</c> value, or <see langword="null"/> when absent.</param>
    /// <param name="statusDetailsBin">The raw <c>grpc-status-details-bin</c> value, or <see langword="null"/> when absent.</param>
    /// <returns>
    /// The exception. Its detail is the decoded <c>grpc-message</c> (else the message inside the
    /// details, else empty); its <see cref="ErrorInfo"/> is the first one among the details, if
    /// the details are readable. Unreadable details are ignored rather than hiding the status.
    /// </returns>
    public static GrpcStatusException FromStatusHeaders(GrpcStatusCode statusCode, string? grpcMessage, string? statusDetailsBin)
    {
        Google.Rpc.Status? details = GrpcStatusDetails.TryDecode(statusDetailsBin, out Google.Rpc.Status? decoded) ? decoded : null;
        string detail = grpcMessage is not null ? GrpcStatusMessage.Decode(grpcMessage) : details?.Message ?? string.Empty;
        ErrorInfo? errorInfo = details is null ? null : GrpcStatusDetails.FindErrorInfo(details);
        return new GrpcStatusException(statusCode, detail, errorInfo);
    }

    private static string FormatMessage(GrpcStatusCode statusCode, string? detail, ErrorInfo? errorInfo) =>
        errorInfo is null
            ? $"Status(StatusCode=\"{statusCode}\", Detail=\"{detail}\")"
            : $"Status(StatusCode=\"{statusCode}\", Detail=\"{detail}\", Reason=\"{errorInfo.Reason}\")";
}
