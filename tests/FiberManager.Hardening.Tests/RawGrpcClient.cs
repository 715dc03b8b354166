using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using FiberManager.Protocol;
using Google.Protobuf;

namespace FiberManager.Hardening.Tests;

/// <summary>What came back for one raw call.</summary>
/// <param name="HttpStatus">The HTTP status.</param>
/// <param name="GrpcStatus">grpc-status from the headers (trailers-only) or the trailers; null if absent.</param>
/// <param name="GrpcMessage">grpc-message, decoded.</param>
/// <param name="Reason">The ErrorInfo reason from grpc-status-details-bin, if any.</param>
/// <param name="TrailersOnly">True when the status was in the response headers.</param>
/// <param name="Body">The response body bytes.</param>
public sealed record RawResult(HttpStatusCode HttpStatus, GrpcStatusCode? GrpcStatus, string? GrpcMessage, string? Reason, bool TrailersOnly, byte[] Body)
{
    public override string ToString() => $"HTTP {(int)HttpStatus}, grpc-status {GrpcStatus?.ToString() ?? "<none>"}, reason {Reason ?? "<none>"}, message '{GrpcMessage}'";
}

/// <summary>
/// A bare gRPC-over-HTTP/2 client on <see cref="HttpClient"/> (prior knowledge): sends any bytes
/// with any headers to any path and reports the status, so tests can send what a well-behaved
/// client never would.
/// </summary>
public sealed class RawGrpcClient : IDisposable
{
    private readonly HttpClient _http;

    public RawGrpcClient(Uri address, int maxConnections = 1)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = maxConnections > 1,
            MaxConnectionsPerServer = maxConnections,
        })
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public const string StartPath = "/fibermanager.v1.FiberManager/Start";
    public const string SubmitPath = "/fibermanager.v1.FiberManager/Submit";
    public const string GetStatusPath = "/fibermanager.v1.FiberManager/GetStatus";

    /// <summary>A frame: flag byte, big-endian length (as given, not necessarily the real one), body.</summary>
    public static byte[] Frame(byte[] body, byte flag = 0, uint? declaredLength = null)
    {
        var frame = new byte[GrpcMessageFraming.HeaderSize + body.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), declaredLength ?? (uint)body.Length);
        body.CopyTo(frame, GrpcMessageFraming.HeaderSize);
        return frame;
    }

    public static byte[] Frame(IMessage message) => Frame(message.ToByteArray());

    public Task<RawResult> CallAsync(string path, IMessage message, Action<HttpRequestMessage>? configure = null, CancellationToken cancellationToken = default) =>
        CallAsync(path, Frame(message), configure, cancellationToken);

    public async Task<RawResult> CallAsync(string path, byte[] body, Action<HttpRequestMessage>? configure = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        configure?.Invoke(request);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(TestTimeouts.Default);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        var bytes = await response.Content.ReadAsByteArrayAsync(cts.Token);
        var trailersOnly = response.Headers.Contains(GrpcHeaders.Status);
        var source = trailersOnly ? response.Headers : response.TrailingHeaders;
        GrpcStatusCode? code = source.TryGetValues(GrpcHeaders.Status, out var values) ? (GrpcStatusCode)int.Parse(values.First(), System.Globalization.CultureInfo.InvariantCulture) : null;
        string? message = source.TryGetValues(GrpcHeaders.Message, out var messages) ? Uri.UnescapeDataString(messages.First()) : null;
        string? reason = null;
        if (code is { } c && c != GrpcStatusCode.Ok && source.TryGetValues(GrpcHeaders.StatusDetailsBin, out var details))
        {
            reason = GrpcStatusException.FromStatusHeaders(c, message, details.First()).Reason;
        }

        return new RawResult(response.StatusCode, code, message, reason, trailersOnly, bytes);
    }

    public void Dispose() => _http.Dispose();
}
