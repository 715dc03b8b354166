using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Rpc;
using Grpc.Core;

namespace FiberManager.Testing;

/// <summary>What came back for one raw call: the HTTP answer and the gRPC status read from it.</summary>
/// <param name="HttpStatus">The HTTP status.</param>
/// <param name="Headers">The response headers.</param>
/// <param name="ContentType">The response content type.</param>
/// <param name="Body">The response body bytes (framed messages).</param>
/// <param name="Trailers">The response trailers.</param>
public sealed record RawResult(HttpStatusCode HttpStatus, HttpResponseHeaders Headers, string? ContentType, byte[] Body, HttpResponseHeaders Trailers)
{
    /// <summary>True when the gRPC status came in the response headers (a trailers-only response).</summary>
    public bool TrailersOnly => Headers.Contains("grpc-status");

    /// <summary>grpc-status from the headers (trailers-only) or the trailers; null if absent.</summary>
    public StatusCode? Status =>
        StatusHeaders.TryGetValues("grpc-status", out var values) && int.TryParse(values.First(), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? (StatusCode)code : null;

    /// <summary>grpc-message, percent-decoded.</summary>
    public string? Message => StatusHeaders.TryGetValues("grpc-message", out var values) ? Uri.UnescapeDataString(values.First()) : null;

    /// <summary>The ErrorInfo of the <c>google.rpc.Status</c> in grpc-status-details-bin, if any.</summary>
    public ErrorInfo? ErrorInfo =>
        StatusHeaders.TryGetValues("grpc-status-details-bin", out var values)
            ? Google.Rpc.Status.Parser.ParseFrom(DecodeBase64(values.First())).GetDetail<ErrorInfo>()
            : null;

    /// <summary>The ErrorInfo reason, if any.</summary>
    public string? Reason => ErrorInfo?.Reason;

    private HttpResponseHeaders StatusHeaders => TrailersOnly ? Headers : Trailers;

    /// <summary>Parses the body as exactly one framed, uncompressed message.</summary>
    public T Single<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        Assert.True(Body.Length >= RawGrpcClient.HeaderSize, "The body holds no message.");
        Assert.Equal(0, Body[0]);
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(Body.AsSpan(1));
        Assert.Equal(RawGrpcClient.HeaderSize + length, Body.Length);
        return parser.ParseFrom(Body.AsSpan(RawGrpcClient.HeaderSize));
    }

    public override string ToString() =>
        $"HTTP {(int)HttpStatus}, grpc-status {Status?.ToString() ?? "<none>"}, reason {Reason ?? "<none>"}, message '{Message}'";

    /// <summary>-bin metadata is base64, padded or not.</summary>
    private static byte[] DecodeBase64(string value)
    {
        var trimmed = value.Trim();
        return Convert.FromBase64String(trimmed.PadRight(trimmed.Length + ((4 - (trimmed.Length % 4)) % 4), '='));
    }
}

/// <summary>
/// gRPC by hand over <see cref="HttpClient"/> (HTTP/2 with prior knowledge), for what a
/// well-behaved client never sends: any bytes (truncated or lying length prefixes, unknown
/// compression flags, several messages on a unary call) with any headers to any path. It reports
/// the status as the server wrote it, opens server streams that the test reads as slowly as it
/// likes or resets, and can drop its TCP connections without any HTTP/2 goodbye.
/// </summary>
/// <remarks>
/// One client for every wire-level test. A Grpc.Net.Client call invoker frames each message
/// itself, so it cannot produce malformed frames, stall a stream's flow control on purpose or
/// reset a connection: plain HTTP/2 can.
/// </remarks>
public sealed class RawGrpcClient : IDisposable
{
    /// <summary>The gRPC message prefix: a compressed flag and a big-endian length.</summary>
    public const int HeaderSize = 5;

    public const string StartPath = "/fibermanager.v1.FiberManager/Start";
    public const string SubmitPath = "/fibermanager.v1.FiberManager/Submit";
    public const string GetStatusPath = "/fibermanager.v1.FiberManager/GetStatus";
    public const string SubscribePath = "/fibermanager.v1.FiberManager/Subscribe";

    private readonly ConcurrentQueue<Socket> _sockets = new();
    private readonly HttpClient _http;

    public RawGrpcClient(Uri address, int maxConnections = 1)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = maxConnections > 1,
            MaxConnectionsPerServer = maxConnections,
            ConnectCallback = ConnectAsync,
        })
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>A framed message: flag byte, big-endian length (as given, not necessarily the real one), the bytes.</summary>
    public static byte[] Frame(byte[] payload, byte flag = 0, uint? declaredLength = null)
    {
        var frame = new byte[HeaderSize + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderSize));
        return frame;
    }

    /// <summary>A framed, uncompressed message.</summary>
    public static byte[] Frame(IMessage message, byte flag = 0, uint? declaredLength = null) => Frame(message.ToByteArray(), flag, declaredLength);

    /// <summary>Sends one framed message as the whole request body; bounded by the default test timeout.</summary>
    public Task<RawResult> CallAsync(string path, IMessage message, Action<HttpRequestMessage>? configure = null, CancellationToken cancellationToken = default) =>
        CallAsync(path, Frame(message), configure, cancellationToken);

    /// <summary>
    /// Sends <paramref name="body"/> as a gRPC request (<c>content-type: application/grpc</c>,
    /// <c>te: trailers</c>, then <paramref name="configure"/>) and reads the whole answer; bounded
    /// by the default test timeout.
    /// </summary>
    public async Task<RawResult> CallAsync(string path, byte[] body, Action<HttpRequestMessage>? configure = null, CancellationToken cancellationToken = default)
    {
        using var request = Request(path, body);
        configure?.Invoke(request);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TestTimeouts.Default);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return new RawResult(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.ToString(), bytes, response.TrailingHeaders);
    }

    /// <summary>A plain HTTP/2 GET.</summary>
    public async Task<RawResult> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return new RawResult(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.ToString(), bytes, response.TrailingHeaders);
    }

    /// <summary>
    /// Opens a server-streaming call and returns once the response headers arrived (a server sends
    /// them with its first message), leaving the messages unread.
    /// </summary>
    public async Task<RawStream> OpenStreamAsync(string path, IMessage message)
    {
        var request = Request(path, Frame(message));
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new RawStream(request, response, await response.Content.ReadAsStreamAsync());
    }

    /// <summary>Drops every TCP connection of this client with a reset (linger 0), without any HTTP/2 goodbye.</summary>
    public void DropConnections()
    {
        while (_sockets.TryDequeue(out var socket))
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
    }

    public void Dispose() => _http.Dispose();

    private static HttpRequestMessage Request(string path, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        return request;
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _sockets.Enqueue(socket);
        return new NetworkStream(socket, ownsSocket: true);
    }
}

/// <summary>One raw server stream: read its messages one at a time, or dispose it mid-stream (RST_STREAM).</summary>
public sealed class RawStream(HttpRequestMessage request, HttpResponseMessage response, Stream body) : IDisposable
{
    private readonly byte[] _header = new byte[RawGrpcClient.HeaderSize];

    /// <summary>The next message, or null at the end of the stream; bounded by the default test timeout.</summary>
    public async Task<T?> ReadAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        if (await body.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, timeout.Token) == 0)
        {
            return null;
        }

        Assert.Equal(0, _header[0]);
        var message = new byte[BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1))];
        await body.ReadExactlyAsync(message, timeout.Token);
        return parser.ParseFrom(message);
    }

    /// <summary>Every remaining message, then the grpc-status of the trailers.</summary>
    public async Task<(List<T> Messages, string? Status)> ReadToEndAsync<T>(MessageParser<T> parser)
        where T : class, IMessage<T>
    {
        var messages = new List<T>();
        for (var i = 0; i < 1_000_000; i++)
        {
            if (await ReadAsync(parser) is not { } message)
            {
                var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) ? values.First() : null;
                return (messages, status);
            }

            messages.Add(message);
        }

        throw new InvalidOperationException("The stream did not end.");
    }

    public void Dispose()
    {
        body.Dispose();
        response.Dispose();
        request.Dispose();
    }
}
