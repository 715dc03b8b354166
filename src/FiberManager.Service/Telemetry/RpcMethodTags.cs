using System.Diagnostics;
using Grpc.Core;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// The tags of one method's <c>rpc.server.duration</c>, made once per method (kept by
/// <see cref="RpcTelemetryInterceptor"/>); <see cref="Start"/> times one call.
/// </summary>
internal sealed class RpcMethodTags
{
    private readonly string _service;
    private readonly string _method;

    /// <param name="path">The method's path, <c>/package.Service/Method</c>.</param>
    public RpcMethodTags(string path)
    {
        var trimmed = path.TrimStart('/');
        var slash = trimmed.LastIndexOf('/');
        _service = slash > 0 ? trimmed[..slash] : trimmed;
        _method = slash > 0 ? trimmed[(slash + 1)..] : string.Empty;
    }

    /// <summary>Starts timing one call.</summary>
    public Call Start() => new(this, Stopwatch.GetTimestamp());

    private void Record(long startedTimestamp, StatusCode code)
    {
        if (!ServiceDiagnostics.RpcServerDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { ServiceTelemetryNames.RpcSystemTag, "grpc" },
            { ServiceTelemetryNames.RpcServiceTag, _service },
            { ServiceTelemetryNames.RpcMethodTag, _method },
            { ServiceTelemetryNames.RpcGrpcStatusCodeTag, (int)code },
        };
        ServiceDiagnostics.RpcServerDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tags);
    }

    /// <summary>One call's start time; <see cref="Stop"/> records its duration with the status it ended with.</summary>
    internal readonly struct Call(RpcMethodTags method, long startedTimestamp)
    {
        /// <summary>Records the call's duration (nothing when no listener has enabled the histogram).</summary>
        public void Stop(StatusCode code) => method.Record(startedTimestamp, code);
    }
}
