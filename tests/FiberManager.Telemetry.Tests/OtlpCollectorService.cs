using System.Text;
using Grpc.Core;

namespace FiberManager.Telemetry.Tests;

/// <summary>What a fake OTLP collector received: the path, the content type and the body.</summary>
public sealed record OtlpPost(string Path, string? ContentType, byte[] Body)
{
    /// <summary>The body as Latin-1: protobuf strings are UTF-8 bytes inside it, so names are found as substrings.</summary>
    public string Text { get; } = Encoding.Latin1.GetString(Body);

    /// <summary>
    /// Whether the body holds the string attribute <paramref name="key"/>=<paramref name="value"/>
    /// (ASCII, shorter than 126 bytes): an OTLP <c>KeyValue</c> is the key (field 1), then an
    /// <c>AnyValue</c> (field 2) holding the string (its field 1).
    /// </summary>
    public bool HasStringAttribute(string key, string value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(key.Length, 127);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.Length, 125);
        var encoded = $"\u000a{(char)key.Length}{key}\u0012{(char)(value.Length + 2)}\u000a{(char)value.Length}{value}";
        return Text.Contains(encoded, StringComparison.Ordinal);
    }
}

/// <summary>
/// The OTLP/gRPC collector services (traces, metrics, logs), each with its one unary method
/// <c>Export</c>, served by grpc-dotnet with the messages kept as bytes: OTLP's protos are not
/// compiled here, and an empty message is a valid (successful) export response.
/// </summary>
/// <remarks>
/// Not sealed: grpc-dotnet binds a method only if it is virtual and declared by the type that
/// carries <see cref="BindServiceMethodAttribute"/> (as a generated service base is).
/// </remarks>
[BindServiceMethod(typeof(OtlpCollectorService), nameof(BindService))]
public class OtlpCollectorService(ExportedItems<OtlpPost> received)
{
    public const string Traces = "opentelemetry.proto.collector.trace.v1.TraceService";
    public const string Metrics = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    public const string Logs = "opentelemetry.proto.collector.logs.v1.LogsService";

    private static readonly Marshaller<byte[]> s_bytes = Marshallers.Create(static bytes => bytes, static bytes => bytes);

    /// <summary>Binds <see cref="Export"/> as the <c>Export</c> method of each collector service (grpc-dotnet finds it by name).</summary>
    public static void BindService(ServiceBinderBase binder, OtlpCollectorService? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        foreach (var name in (string[])[Traces, Metrics, Logs])
        {
            binder.AddMethod(new Method<byte[], byte[]>(MethodType.Unary, name, nameof(Export), s_bytes, s_bytes), (UnaryServerMethod<byte[], byte[]>?)null);
        }
    }

    public virtual Task<byte[]> Export(byte[] request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        received.Add(new OtlpPost(context.Method, context.GetHttpContext().Request.ContentType, request));
        return Task.FromResult(Array.Empty<byte>());
    }
}
