using System.Globalization;
using FiberManager.Core.Management;
using FiberManager.Protocol;
using Google.Rpc;

namespace FiberManager.Service.Grpc;

/// <summary>A gRPC status to send: code, message, and the ErrorInfo for <c>grpc-status-details-bin</c>.</summary>
internal readonly record struct RpcStatus(GrpcStatusCode Code, string Message, ErrorInfo? ErrorInfo);

/// <summary>
/// The one place where exceptions become gRPC statuses. Expected failures carry their reason
/// (see the table in <c>fibermanager.proto</c>); unexpected ones become INTERNAL with a generic
/// message unless detailed errors are on.
/// </summary>
internal static class GrpcErrorMapper
{
    public static RpcStatus Map(Exception exception, GrpcCallContext call, bool detailedErrors, bool serverStopping)
    {
        switch (exception)
        {
            case GrpcStatusException status:
                return new RpcStatus(status.StatusCode, status.Detail, status.ErrorInfo);

            case FiberSupervisorException fiber:
                return MapFiberError(fiber);

            case OperationCanceledException when call.DeadlineExceeded:
                return WithReason(GrpcStatusCode.DeadlineExceeded, "The deadline passed before the call completed.", ErrorReasons.DeadlineExceeded, null);

            case OperationCanceledException when call.ClientCancelled:
                return new RpcStatus(GrpcStatusCode.Cancelled, "The call was cancelled by the client.", null);

            case OperationCanceledException when serverStopping:
                return WithReason(GrpcStatusCode.Unavailable, "The server is shutting down.", ErrorReasons.ShuttingDown, null);

            case OperationCanceledException:
                return new RpcStatus(GrpcStatusCode.Cancelled, "The call was cancelled.", null);

            case ArgumentException argument:
                return WithReason(GrpcStatusCode.InvalidArgument, MessageWithoutParameter(argument), ErrorReasons.InvalidArgument, argument.ParamName is { } p ? new() { [ErrorMetadataKeys.Field] = p } : null);

            default:
                return new RpcStatus(GrpcStatusCode.Internal, detailedErrors ? $"{exception.GetType().Name}: {exception.Message}" : "Internal error.", null);
        }
    }

    private static RpcStatus MapFiberError(FiberSupervisorException error)
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
            FiberErrorCode.NotFound => (GrpcStatusCode.NotFound, ErrorReasons.FiberNotFound),
            FiberErrorCode.AlreadyExists => (GrpcStatusCode.AlreadyExists, ErrorReasons.FiberAlreadyExists),
            FiberErrorCode.Paused => (GrpcStatusCode.FailedPrecondition, ErrorReasons.FiberPaused),
            FiberErrorCode.Ended => (GrpcStatusCode.FailedPrecondition, ErrorReasons.FiberEnded),
            FiberErrorCode.ConcurrencyLimitReached => (GrpcStatusCode.ResourceExhausted, ErrorReasons.ConcurrencyLimitReached),
            FiberErrorCode.InputQueueFull => (GrpcStatusCode.ResourceExhausted, ErrorReasons.InputQueueFull),
            FiberErrorCode.InvalidFiberId => (GrpcStatusCode.InvalidArgument, ErrorReasons.InvalidFiberId),
            FiberErrorCode.InvalidArgument => (GrpcStatusCode.InvalidArgument, ErrorReasons.InvalidArgument),
            FiberErrorCode.ShuttingDown => (GrpcStatusCode.Unavailable, ErrorReasons.ShuttingDown),
            FiberErrorCode.OwnerFiberLimitReached => (GrpcStatusCode.ResourceExhausted, ErrorReasons.ApiKeyFiberLimitReached),
            _ => (GrpcStatusCode.Internal, ErrorReasons.InvalidArgument),
        };
        var message = error.Code == FiberErrorCode.OwnerFiberLimitReached
            ? $"The API key '{metadata[ErrorMetadataKeys.ApiKey]}' already holds {metadata[ErrorMetadataKeys.LiveFibers]} live fibers, its MaxFibers limit ({metadata[ErrorMetadataKeys.MaxFibers]}): interrupt one or wait for one to end."
            : error.Message;
        return WithReason(code, message, reason, metadata);
    }

    public static RpcStatus WithReason(GrpcStatusCode code, string message, string reason, Dictionary<string, string>? metadata)
    {
        var info = new ErrorInfo { Reason = reason, Domain = ErrorReasons.Domain };
        if (metadata is not null)
        {
            info.Metadata.Add(metadata);
        }

        return new RpcStatus(code, message, info);
    }

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

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
