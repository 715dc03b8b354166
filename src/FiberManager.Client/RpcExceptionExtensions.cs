using FiberManager.Protocol;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;

namespace FiberManager.Client;

/// <summary>
/// Reads the machine-readable reason of a failed call: the <c>google.rpc.ErrorInfo</c> that
/// FiberManager puts in the <c>google.rpc.Status</c> details of its errors (the
/// <c>grpc-status-details-bin</c> trailer, read with Grpc.StatusProto).
/// </summary>
/// <example><code>
/// try
/// {
///     await client.SubmitAsync(new SubmitRequest { FiberId = "chat-1", Input = input, QueueFullPolicy = QueueFullPolicy.Reject });
/// }
/// catch (RpcException e) when (e.GetReason() == ErrorReasons.InputQueueFull)
/// {
///     var depth = e.GetErrorInfo()!.Metadata[ErrorMetadataKeys.QueueDepth]; // back off
/// }
/// </code></example>
public static class RpcExceptionExtensions
{
    /// <summary>
    /// The first <see cref="ErrorInfo"/> among the error's status details, or null when the status
    /// carried none (errors of the transport, the deadline, or another service) or its details
    /// cannot be read. FiberManager's have the domain <see cref="ErrorReasons.Domain"/>.
    /// </summary>
    public static ErrorInfo? GetErrorInfo(this RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        try
        {
            return exception.Trailers.GetRpcStatus(ignoreParseError: true)?.GetDetail<ErrorInfo>();
        }
        catch (InvalidProtocolBufferException)
        {
            return null; // an ErrorInfo detail whose bytes do not parse: as if there were none
        }
    }

    /// <summary>The <see cref="ErrorInfo.Reason"/> of <see cref="GetErrorInfo"/> (one of <see cref="ErrorReasons"/> for FiberManager's errors), or null.</summary>
    public static string? GetReason(this RpcException exception) => exception.GetErrorInfo()?.Reason;
}
