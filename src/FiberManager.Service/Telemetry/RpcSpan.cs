using System.Diagnostics;
using Grpc.AspNetCore.Server;
using Grpc.Core;

namespace FiberManager.Service.Telemetry;

/// <summary>
/// Makes ASP.NET Core's request span of a gRPC call the service's RPC span: named
/// <c>package.Service/Method</c>, tagged <c>rpc.system</c>=grpc, <c>rpc.service</c>,
/// <c>rpc.method</c> and <c>rpc.grpc.status_code</c> (the status grpc-dotnet ended the call
/// with), its status Error for every code but OK. Runs as the OpenTelemetry ASP.NET Core
/// instrumentation's <c>EnrichWithHttpResponse</c> callback, after the instrumentation has made
/// an HTTP span of it (<c>POST /package.Service/Method</c>); requests that are not gRPC calls are
/// left as they are.
/// </summary>
/// <remarks>
/// The instrumentation's own gRPC support (<c>OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_ENABLE_GRPC_INSTRUMENTATION</c>)
/// is not used: the version here emits the newer, still experimental RPC conventions
/// (<c>rpc.system.name</c>, <c>rpc.method</c> as the full name, <c>rpc.response.status_code</c>
/// as a name), not the attributes this service's spans have always had. The method comes from
/// grpc-dotnet's endpoint metadata and the status from the call's <see cref="ServerCallContext"/>,
/// both public API. A call refused before its method ran (authentication, authorization, the rate
/// limit) has no call context and gets no <c>rpc.grpc.status_code</c>.
/// </remarks>
internal static class RpcSpan
{
    /// <summary>The tags grpc-dotnet puts on the request's activity; <see cref="Enrich"/> replaces them with the <c>rpc.*</c> ones.</summary>
    private static readonly string[] s_grpcDotnetTags = ["grpc.method", "grpc.status_code"];

    /// <summary>The instrumentation's callback: names and tags the span of a gRPC call.</summary>
    public static void Enrich(Activity activity, HttpResponse response)
    {
        var http = response.HttpContext;
        if (http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not { } grpc)
        {
            return;
        }

        var method = grpc.Method;
        activity.DisplayName = method.FullName.TrimStart('/');
        activity.SetTag(ServiceTelemetryNames.RpcSystemTag, "grpc");
        activity.SetTag(ServiceTelemetryNames.RpcServiceTag, method.ServiceName);
        activity.SetTag(ServiceTelemetryNames.RpcMethodTag, method.Name);
        foreach (var tag in s_grpcDotnetTags)
        {
            activity.SetTag(tag, null);
        }

        if (http.Features.Get<IServerCallContextFeature>() is { } call)
        {
            var code = call.ServerCallContext.Status.StatusCode;
            activity.SetTag(ServiceTelemetryNames.RpcGrpcStatusCodeTag, (int)code);
            if (code != StatusCode.OK)
            {
                activity.SetStatus(ActivityStatusCode.Error, code.ToString());
            }
        }
    }
}
