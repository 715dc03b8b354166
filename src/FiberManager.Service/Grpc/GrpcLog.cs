using Microsoft.Extensions.Logging;

namespace FiberManager.Service.Grpc;

/// <summary>The wire layer's log messages. Event ids are never renumbered.</summary>
internal static partial class GrpcLog
{
    [LoggerMessage(EventId = 100, EventName = "UnhandledException", Level = LogLevel.Error, Message = "Unhandled exception in {Method}.")]
    public static partial void UnhandledException(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 101, EventName = "CallCancelled", Level = LogLevel.Information, Message = "Call {Method} was cancelled by the client.")]
    public static partial void CallCancelled(ILogger logger, string method);

    [LoggerMessage(EventId = 103, EventName = "EventTooLarge", Level = LogLevel.Warning, Message = "Event {Sequence} of fiber {FiberId} is {Size} bytes, above the message size limit of {MaxMessageSize}: sent to the subscriber as a gap.")]
    public static partial void EventTooLarge(ILogger logger, string fiberId, ulong sequence, int size, int maxMessageSize);

    [LoggerMessage(EventId = 102, EventName = "Listening", Level = LogLevel.Information, Message = "FiberManager listening on {Url} (HTTP/2{Tls}).")]
    public static partial void Listening(ILogger logger, string url, string tls);
}
