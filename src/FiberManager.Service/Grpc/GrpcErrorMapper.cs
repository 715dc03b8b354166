using System.Globalization;
using FiberManager.Core.Management;
using FiberManager.Protocol;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Status = Google.Rpc.Status;

namespace FiberManager.Service.Grpc;

/// <summary>
/// How a failure becomes a gRPC status: code, message and, for FiberManager's own errors, a
/// <c>google.rpc.Status</c> with one <see cref="ErrorInfo"/> (the reason) in
/// <c>grpc-status-details-bin</c>. Only <see cref="ErrorMappingInterceptor"/> calls
/// <see cref="Map"/>; the service builds the few statuses it detects itself with
/// <see cref="WithReason"/>.
/// </summary>
/// <remarks>
/// Expected failures carry their reason (the table in <c>fibermanager.proto</c>); unexpected ones
/// become INTERNAL with a generic message unless detailed errors are on.
/// </remarks>
internal static class GrpcErrorMapper
{
    /// <summary>The status of a call that failed with <paramref name="exception"/>.</summary>
    /// <param name="exception">What the method threw.</param>
    /// <param name="cause">Why the call's token was cancelled, when it was.</param>
    /// <param name="detailedErrors">Whether unexpected errors show their message.</param>
    public static RpcException Map(Exception exception, CancellationCause cause, bool detailedErrors) => exception switch
    {
        RpcException rpc => rpc,
        FiberSupervisorException fiber => MapFiberError(fiber),
        OperationCanceledException => cause switch
        {
            CancellationCause.Deadline => WithReason(StatusCode.DeadlineExceeded, ErrorReasons.DeadlineExceeded, "The deadline passed before the call completed."),
            CancellationCause.Client => new RpcException(new global::Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled by the client.")),
            CancellationCause.ServerStopping => WithReason(StatusCode.Unavailable, ErrorReasons.ShuttingDown, "The server is shutting down."),
            _ => new RpcException(new global::Grpc.Core.Status(StatusCode.Cancelled, "The call was cancelled.")),
        },
        ArgumentException argument => WithReason(
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument,
            MessageWithoutParameter(argument),
            argument.ParamName is { } p ? new() { [ErrorMetadataKeys.Field] = p } : null),
        _ => new RpcException(new global::Grpc.Core.Status(StatusCode.Internal, detailedErrors ? $"{exception.GetType().Name}: {exception.Message}" : "Internal error.")),
    };

    /// <summary>
    /// One of FiberManager's own errors: <paramref name="code"/> and <paramref name="message"/>,
    /// with an <see cref="ErrorInfo"/> (domain <see cref="ErrorReasons.Domain"/>, <paramref name="reason"/> and the metadata) as the status detail.
    /// </summary>
    public static RpcException WithReason(StatusCode code, string reason, string message, Dictionary<string, string>? metadata = null)
    {
        var info = new ErrorInfo { Reason = reason, Domain = ErrorReasons.Domain };
        if (metadata is not null)
        {
            info.Metadata.Add(metadata);
        }

        return new Status { Code = (int)code, Message = message, Details = { Any.Pack(info) } }.ToRpcException();
    }

    /// <summary>A number as ErrorInfo metadata (invariant culture).</summary>
    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static RpcException MapFiberError(FiberSupervisorException error)
    {
        var metadata = new Dictionary<string, string>();
        if (error.FiberId is { } id)
        {
            metadata[ErrorMetadataKeys.FiberId] = id;
        }

        foreach (var (key, value) in error.Metadata)
        {
            metadata[key switch { "capacity" => ErrorMetadataKeys.InputCapacity, "owner" => ErrorMetadataKeys.ApiKey, _ => key }] = value;
        }

        var (code, reason) = error.Code switch
        {
            FiberErrorCode.NotFound => (StatusCode.NotFound, ErrorReasons.FiberNotFound),
            FiberErrorCode.AlreadyExists => (StatusCode.AlreadyExists, ErrorReasons.FiberAlreadyExists),
            FiberErrorCode.Paused => (StatusCode.FailedPrecondition, ErrorReasons.FiberPaused),
            FiberErrorCode.Ended => (StatusCode.FailedPrecondition, ErrorReasons.FiberEnded),
            FiberErrorCode.ConcurrencyLimitReached => (StatusCode.ResourceExhausted, ErrorReasons.ConcurrencyLimitReached),
            FiberErrorCode.InputQueueFull => (StatusCode.ResourceExhausted, ErrorReasons.InputQueueFull),
            FiberErrorCode.InvalidFiberId => (StatusCode.InvalidArgument, ErrorReasons.InvalidFiberId),
            FiberErrorCode.InvalidArgument => (StatusCode.InvalidArgument, ErrorReasons.InvalidArgument),
            FiberErrorCode.ShuttingDown => (StatusCode.Unavailable, ErrorReasons.ShuttingDown),
            FiberErrorCode.OwnerFiberLimitReached => (StatusCode.ResourceExhausted, ErrorReasons.ApiKeyFiberLimitReached),
            _ => (StatusCode.Internal, ErrorReasons.InvalidArgument),
        };
        var message = error.Code == FiberErrorCode.OwnerFiberLimitReached
            ? $"The API key '{metadata[ErrorMetadataKeys.ApiKey]}' already holds {metadata[ErrorMetadataKeys.LiveFibers]} live fibers, its MaxFibers limit ({metadata[ErrorMetadataKeys.MaxFibers]}): interrupt one or wait for one to end."
            : error.Message;
        return WithReason(code, reason, message, metadata);
    }

    /// <summary>
    /// ArgumentException.Message appends " (Parameter 'name')" (twice when re-wrapped with the
    /// same name); the field already travels in the metadata, so the client gets the bare text.
    /// </summary>
    private static string MessageWithoutParameter(ArgumentException argument)
    {
        var message = argument.Message;
        if (argument.ParamName is { } name)
        {
            var suffix = $" (Parameter '{name}')";
            while (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        return message;
    }
}

/// <summary>Why a call's cancellation token fired (decides the status of an <see cref="OperationCanceledException"/>).</summary>
internal enum CancellationCause
{
    /// <summary>Not known (the token did not fire, or something else cancelled the operation).</summary>
    None,

    /// <summary>The call's deadline passed.</summary>
    Deadline,

    /// <summary>The client reset the stream or the connection went away.</summary>
    Client,

    /// <summary>The host is stopping.</summary>
    ServerStopping,
}
