using System.Collections.Frozen;
using FiberManager.Protocol;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;

namespace FiberManager.Service.Grpc;

/// <summary>A gRPC service implementation contributes its methods to the table.</summary>
internal interface IGrpcService
{
    void Register(GrpcMethodTable table);
}

/// <summary>
/// Every method the server serves, by path (<c>/package.Service/Method</c>), and the request
/// delegate that dispatches to them. Unknown paths get UNIMPLEMENTED; plain HTTP requests that
/// are not gRPC get a short text answer.
/// </summary>
internal sealed class GrpcMethodTable
{
    private readonly Dictionary<string, ServerCallHandler> _building = new(StringComparer.Ordinal);
    private readonly GrpcServerContext _server;
    private readonly FrozenDictionary<string, ServerCallHandler>? _methods;
    private readonly FrozenSet<string>? _services;

    public GrpcMethodTable(GrpcServerContext server, IEnumerable<IGrpcService> services)
    {
        _server = server;
        foreach (var service in services)
        {
            service.Register(this);
        }

        _methods = _building.ToFrozenDictionary(StringComparer.Ordinal);
        _services = _building.Keys.Select(k => k.Split('/')[1]).ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Service names served (for reflection's ListServices).</summary>
    public IReadOnlyCollection<string> Services => _services!;

    public void AddUnary<TRequest, TResponse>(string service, string method, MessageParser<TRequest> parser, Func<TRequest, GrpcCallContext, ValueTask<TResponse>> invoker)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Add(new UnaryServerCallHandler<TRequest, TResponse>(_server, Path(service, method), parser, invoker));

    public void AddServerStreaming<TRequest, TResponse>(string service, string method, MessageParser<TRequest> parser, Func<TRequest, IServerStreamWriter<TResponse>, GrpcCallContext, Task> invoker, bool endsOnServerStop = true)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Add(new ServerStreamingServerCallHandler<TRequest, TResponse>(_server, Path(service, method), parser, invoker, endsOnServerStop));

    public void AddDuplexStreaming<TRequest, TResponse>(string service, string method, MessageParser<TRequest> parser, Func<IAsyncStreamReader<TRequest>, IServerStreamWriter<TResponse>, GrpcCallContext, Task> invoker)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        Add(new DuplexStreamingServerCallHandler<TRequest, TResponse>(_server, Path(service, method), parser, invoker));

    /// <summary>The terminal request delegate.</summary>
    public Task DispatchAsync(HttpContext http)
    {
        var path = http.Request.Path.Value ?? string.Empty;
        if (_methods!.TryGetValue(path, out var handler))
        {
            return handler.HandleCallAsync(http);
        }

        if (GrpcHeaders.IsGrpcContentType(http.Request.ContentType))
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var unknownService = parts.Length == 2 && !_services!.Contains(parts[0]) ? parts[0] : null;
            return GrpcResponses.UnimplementedAsync(http, unknownService);
        }

        http.Response.StatusCode = path == "/" ? StatusCodes.Status200OK : StatusCodes.Status404NotFound;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync("FiberManager speaks gRPC over HTTP/2 (service fibermanager.v1.FiberManager). Use a gRPC client, grpcurl or buf curl.\n");
    }

    private void Add(ServerCallHandler handler)
    {
        if (_methods is not null)
        {
            throw new InvalidOperationException("The method table is frozen.");
        }

        _building.Add(handler.Method, handler);
    }

    private static string Path(string service, string method) => $"/{service}/{method}";
}
