using Microsoft.Extensions.Logging;

namespace FiberManager.Service.Grpc;

/// <summary>The wire layer's log messages. Event ids are never renumbered.</summary>
internal static partial class GrpcLog
{
    [LoggerMessage(EventId = 100, EventName = "UnhandledException", Level = LogLevel.Error, Message = "Unhandled exception in {Method}.")]
    public static partial void UnhandledException(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 101, EventName = "CallCancelled", Level = LogLevel.Information, Message = "Call {Method} was cancelled by the client.")]
    public static partial void CallCancelled(ILogger logger, string method);

    // Event id 102 ("Listening") is retired: Kestrel's own "Now listening on" message
    // (Microsoft.Hosting.Lifetime) reports the addresses.
}
