using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using FiberManager.Protocol;
using Google.Protobuf;
using Google.Rpc;

namespace FiberManager.Service.Tests;

/// <summary>What a raw HTTP/2 request got back: HTTP status, headers, body bytes and trailers.</summary>
public sealed record RawResponse(HttpStatusCode HttpStatus, HttpResponseHeaders Headers, string? ContentType, byte[] Body, HttpResponseHeaders Trailers)
{
    /// <summary>True when the gRPC status came in the headers (a trailers-only response).</summary>
    public bool TrailersOnly => Headers.Contains(GrpcHeaders.Status);

    private HttpHeaders StatusHeaders => TrailersOnly ? Headers : Trailers;

    public GrpcStatusCode? Status =>
        StatusHeaders.TryGetValues(GrpcHeaders.Status, out var v) && GrpcHeaders.TryParseStatusCode(v.First(), out var code) ? code : null;

    public string? Message =>
        StatusHeaders.TryGetValues(GrpcHeaders.Message, out var v) ? GrpcStatusMessage.Decode(v.First()) : null;

    public ErrorInfo? ErrorInfo =>
        StatusHeaders.TryGetValues(GrpcHeaders.StatusDetailsBin, out var v) && GrpcStatusDetails.TryDecode(v.First(), out var status)
            ? GrpcStatusDetails.FindErrorInfo(status)
            : null;

    /// <summary>Parses the body as exactly one framed message.</summary>
    public T Single<T>(MessageParser<T> parser)
        where T : IMessage<T>
    {
        Assert.True(Body.Length >= GrpcMessageFraming.HeaderSize, "The body holds no message.");
        Assert.Equal(0, Body[0]);
        var length = (int)BinaryPrimitives.ReadUInt32BigEndian(Body.AsSpan(1));
        Assert.Equal(GrpcMessageFraming.HeaderSize + length, Body.Length);
        return parser.ParseFrom(Body.AsSpan(GrpcMessageFraming.HeaderSize));
    }
}

/// <summary>
/// gRPC by hand over <see cref="HttpClient"/> (HTTP/2 prior knowledge, one connection), for
/// wire-level checks the typed client never produces.
/// </summary>
public sealed class RawGrpcClient : IDisposable
{
    private readonly HttpClient _http;

    public RawGrpcClient(Uri address)
    {
        _http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = false })
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>A framed message: flag byte, big-endian length (or <paramref name="declaredLength"/>), the bytes.</summary>
    public static byte[] Frame(IMessage message, byte flag = 0, uint? declaredLength = null) => Frame(message.ToByteArray(), flag, declaredLength);

    public static byte[] Frame(byte[] payload, byte flag = 0, uint? declaredLength = null)
    {
        var frame = new byte[GrpcMessageFraming.HeaderSize + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), declaredLength ?? (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(GrpcMessageFraming.HeaderSize));
        return frame;
    }

    public async Task<RawResponse> PostAsync(string path, byte[] body, string? contentType = GrpcHeaders.ContentTypeGrpc, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("content-type", contentType);
        }

        request.Headers.TryAddWithoutValidation(GrpcHeaders.TE, GrpcHeaders.TeTrailers);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await SendAsync(request).DefaultTimeout();
    }

    public async Task<RawResponse> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        return await SendAsync(request).DefaultTimeout();
    }

    public void Dispose() => _http.Dispose();

    private async Task<RawResponse> SendAsync(HttpRequestMessage request)
    {
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var body = await response.Content.ReadAsByteArrayAsync();
        return new RawResponse(response.StatusCode, response.Headers, response.Content.Headers.ContentType?.ToString(), body, response.TrailingHeaders);
    }
}
