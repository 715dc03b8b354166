using Microsoft.Extensions.Logging;

namespace FiberManager.Service.Grpc;

/// <summary>The gRPC layer's log messages. Event ids are never renumbered.</summary>
internal static partial class GrpcLog
{
    /// <summary>The logger category of these messages.</summary>
    public const string Category = "FiberManager.Service.Grpc";

    [LoggerMessage(EventId = 100, EventName = "UnhandledException", Level = LogLevel.Error, Message = "Unhandled exception in {Method}.")]
    public static partial void UnhandledException(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 101, EventName = "CallCancelled", Level = LogLevel.Information, Message = "Call {Method} was cancelled by the client.")]
    public static partial void CallCancelled(ILogger logger, string method);

    // Event id 102 ("Listening") is retired: Kestrel's own "Now listening on" message
    // (Microsoft.Hosting.Lifetime) reports the addresses.

    [LoggerMessage(EventId = 103, EventName = "EventTooLarge", Level = LogLevel.Warning, Message = "Event {Sequence} of fiber {FiberId} is {Size} bytes, above the message size limit of {MaxMessageSize}: sent to the subscriber as a gap.")]
    public static partial void EventTooLarge(ILogger logger, string fiberId, ulong sequence, int size, int maxMessageSize);
}
