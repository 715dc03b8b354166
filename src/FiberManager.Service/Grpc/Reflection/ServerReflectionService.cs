using FiberManager.Protocol;
using Google.Protobuf;
using V1 = global::Grpc.Reflection.V1;
using V1Alpha = global::Grpc.Reflection.V1Alpha;

namespace FiberManager.Service.Grpc.Reflection;

/// <summary>
/// gRPC server reflection, both <c>grpc.reflection.v1.ServerReflection</c> (buf curl, grpcurl
/// 1.9+) and the older <c>grpc.reflection.v1alpha.ServerReflection</c> (grpcurl up to 1.8,
/// older clients), so ops tools can list, describe and call every method without proto files.
/// </summary>
/// <remarks>
/// One bidirectional stream answers each request in order: list services, file by name, file
/// containing a symbol, file containing an extension, all extension numbers of a type. Files
/// are sent as serialized <c>FileDescriptorProto</c>s, the requested file first, then its
/// transitive imports. Unknown files, symbols, types and extensions get an
/// <c>error_response</c> with NOT_FOUND, and the stream goes on. The two versions have the same
/// messages with the same field numbers; v1alpha requests are answered by the v1 logic through a
/// byte-for-byte conversion.
/// </remarks>
internal sealed class ServerReflectionService(DescriptorIndex index, IServiceProvider services) : IGrpcService
{
    public const string V1ServiceName = "grpc.reflection.v1.ServerReflection";
    public const string V1AlphaServiceName = "grpc.reflection.v1alpha.ServerReflection";
    public const string MethodName = "ServerReflectionInfo";

    // The method table lists the served services, and the table is built from this service:
    // resolve it on first use, not in the constructor.
    private IReadOnlyList<string>? _serviceNames;

    public void Register(GrpcMethodTable table)
    {
        table.AddDuplexStreaming<V1.ServerReflectionRequest, V1.ServerReflectionResponse>(
            V1ServiceName,
            MethodName,
            V1.ServerReflectionRequest.Parser,
            (reader, writer, call) => RunAsync(reader, writer, call, static r => r, static r => r));
        table.AddDuplexStreaming<V1Alpha.ServerReflectionRequest, V1Alpha.ServerReflectionResponse>(
            V1AlphaServiceName,
            MethodName,
            V1Alpha.ServerReflectionRequest.Parser,
            (reader, writer, call) => RunAsync(
                reader,
                writer,
                call,
                static r => V1.ServerReflectionRequest.Parser.ParseFrom(r.ToByteString()),
                static r => V1Alpha.ServerReflectionResponse.Parser.ParseFrom(r.ToByteString())));
    }

    /// <summary>Answers one request (exposed for the loop and for tests).</summary>
    public V1.ServerReflectionResponse Answer(V1.ServerReflectionRequest request)
    {
        var response = new V1.ServerReflectionResponse { ValidHost = request.Host, OriginalRequest = request };
        switch (request.MessageRequestCase)
        {
            case V1.ServerReflectionRequest.MessageRequestOneofCase.ListServices:
                var list = new V1.ListServiceResponse();
                list.Service.Add(ServiceNames.Select(name => new V1.ServiceResponse { Name = name }));
                response.ListServicesResponse = list;
                break;

            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileByFilename:
                SetFiles(response, index.FindFile(request.FileByFilename), $"File not found: {request.FileByFilename}");
                break;

            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileContainingSymbol:
                SetFiles(response, index.FindFileContainingSymbol(request.FileContainingSymbol), $"Symbol not found: {request.FileContainingSymbol}");
                break;

            case V1.ServerReflectionRequest.MessageRequestOneofCase.FileContainingExtension:
                var extension = request.FileContainingExtension;
                if (!index.IsMessageType(extension.ContainingType))
                {
                    SetError(response, GrpcStatusCode.NotFound, $"Type not found: {extension.ContainingType}");
                }
                else
                {
                    SetFiles(
                        response,
                        index.FindFileContainingExtension(extension.ContainingType, extension.ExtensionNumber),
                        $"Extension not found: {extension.ContainingType} has no extension {extension.ExtensionNumber}");
                }

                break;

            case V1.ServerReflectionRequest.MessageRequestOneofCase.AllExtensionNumbersOfType:
                var type = request.AllExtensionNumbersOfType;
                if (!index.IsMessageType(type))
                {
                    SetError(response, GrpcStatusCode.NotFound, $"Type not found: {type}");
                }
                else
                {
                    var numbers = new V1.ExtensionNumberResponse { BaseTypeName = type.TrimStart('.') };
                    numbers.ExtensionNumber.Add(index.ExtensionNumbersOf(type));
                    response.AllExtensionNumbersResponse = numbers;
                }

                break;

            default:
                SetError(response, GrpcStatusCode.Unimplemented, "The request sets no message_request that this server implements.");
                break;
        }

        return response;
    }

    private IReadOnlyList<string> ServiceNames =>
        _serviceNames ??= [.. services.GetRequiredService<GrpcMethodTable>().Services.Order(StringComparer.Ordinal)];

    private async Task RunAsync<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> reader,
        IServerStreamWriter<TResponse> writer,
        GrpcCallContext call,
        Func<TRequest, V1.ServerReflectionRequest> toV1,
        Func<V1.ServerReflectionResponse, TResponse> fromV1)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        while (await reader.ReadAsync(call.CancellationToken).ConfigureAwait(false) is { } request)
        {
            await writer.WriteAsync(fromV1(Answer(toV1(request))), call.CancellationToken).ConfigureAwait(false);
        }
    }

    private static void SetFiles(V1.ServerReflectionResponse response, Google.Protobuf.Reflection.FileDescriptor? file, string notFound)
    {
        if (file is null)
        {
            SetError(response, GrpcStatusCode.NotFound, notFound);
            return;
        }

        var files = new V1.FileDescriptorResponse();
        files.FileDescriptorProto.Add(DescriptorIndex.WithDependencies(file).Select(f => f.SerializedData));
        response.FileDescriptorResponse = files;
    }

    private static void SetError(V1.ServerReflectionResponse response, GrpcStatusCode code, string message) =>
        response.ErrorResponse = new V1.ErrorResponse { ErrorCode = (int)code, ErrorMessage = message };
}
