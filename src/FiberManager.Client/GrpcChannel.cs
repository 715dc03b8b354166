using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using FiberManager.Protocol;
using Google.Protobuf;

namespace FiberManager.Client;

/// <summary>
/// The client half of the wire layer: gRPC calls over one <see cref="HttpClient"/> (HTTP/2,
/// connections reused, several connections when streams run out). Every failure surfaces as a
/// <see cref="GrpcStatusException"/> carrying the status and the ErrorInfo reason; cancellation by
/// the caller's token surfaces as <see cref="OperationCanceledException"/>.
/// </summary>
internal sealed class GrpcChannel : IDisposable
{
    private const string AuthorizationHeader = "authorization";
    private static bool HasHeader(IReadOnlyDictionary<string, string>? headers, string name)
    {
        if (headers is null)
        {
            return false;
        }

        foreach (var key in headers.Keys)
        {
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static readonly MediaTypeHeaderValue s_grpcContentType = new(GrpcHeaders.ContentTypeGrpc);
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly FiberManagerClientOptions _options;
    private readonly GrpcMessageReadOptions _readOptions;
    private readonly string? _authorization;

    public GrpcChannel(HttpClient http, bool ownsHttp, FiberManagerClientOptions options)
    {
        if (options.ApiKey is { } apiKey && (apiKey.Length == 0 || apiKey.Any(char.IsControl) || apiKey.Trim().Length != apiKey.Length))
        {
            throw new ArgumentException("The API key must be non-empty, without control characters or surrounding spaces.", nameof(options));
        }

        _http = http;
        _ownsHttp = ownsHttp;
        _options = options;
        _authorization = options.ApiKey is { } key ? "Bearer " + key : null;
        _readOptions = new GrpcMessageReadOptions { MaxMessageSize = options.MaxReceiveMessageSize };
    }

    public static HttpClient CreateHttpClient(FiberManagerClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        if (options.ClientCertificate is { } clientCertificate)
        {
            if (!clientCertificate.HasPrivateKey)
            {
                throw new ArgumentException("The client certificate needs its private key.", nameof(options));
            }

            // Present it whatever CA names the server lists in its request.
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        if (options.ServerCertificateAuthority is { } authority)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ServerCertificateTrust.IsTrusted(certificate, errors, authority);
        }

        return new HttpClient(handler)
        {
            BaseAddress = options.Address,
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public async Task<TResponse> UnaryAsync<TRequest, TResponse>(string method, TRequest request, MessageParser<TResponse> parser, GrpcCallOptions? options, CancellationToken cancellationToken)
        where TRequest : IMessage
        where TResponse : class, IMessage<TResponse>
    {
        var timeout = options?.Timeout ?? _options.DefaultUnaryTimeout;
        using var deadline = CreateDeadline(timeout, cancellationToken);
        var token = deadline?.Token ?? cancellationToken;
        try
        {
            using var response = await SendAsync(method, request, options, timeout, token).ConfigureAwait(false);
            await using var body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
            var message = await GrpcMessageFraming.ReadMessageAsync(body, parser, _readOptions, token).ConfigureAwait(false);
            await DrainAsync(body, token).ConfigureAwait(false);
            ThrowIfError(response.TrailingHeaders, trailersOnly: false);
            return message ?? throw new GrpcStatusException(GrpcStatusCode.Internal, "The server sent no response message.");
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw new GrpcStatusException(GrpcStatusCode.DeadlineExceeded, $"The call did not complete within {timeout}.");
        }
        catch (HttpRequestException e)
        {
            throw new GrpcStatusException(GrpcStatusCode.Unavailable, $"The service is unreachable: {e.Message}", null, e);
        }
        catch (IOException e) when (!token.IsCancellationRequested)
        {
            throw new GrpcStatusException(GrpcStatusCode.Unavailable, $"The connection failed: {e.Message}", null, e);
        }
    }

    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TRequest, TResponse>(
        string method,
        TRequest request,
        MessageParser<TResponse> parser,
        GrpcCallOptions? options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
        where TRequest : IMessage
        where TResponse : class, IMessage<TResponse>
    {
        var timeout = options?.Timeout;
        using var deadline = CreateDeadline(timeout, cancellationToken);
        var token = deadline?.Token ?? cancellationToken;
        HttpResponseMessage response;
        Stream body;
        try
        {
            response = await SendAsync(method, request, options, timeout, token).ConfigureAwait(false);
            body = await response.Content.ReadAsStreamAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw new GrpcStatusException(GrpcStatusCode.DeadlineExceeded, $"The call did not complete within {timeout}.");
        }
        catch (HttpRequestException e)
        {
            throw new GrpcStatusException(GrpcStatusCode.Unavailable, $"The service is unreachable: {e.Message}", null, e);
        }

        // A trailers-only response (the status, OK here, came in the headers: SendAsync threw
        // otherwise) carries no messages and no trailers: the stream is empty and has ended.
        var trailersOnly = response.Headers.Contains(GrpcHeaders.Status);

        // Cancelling the call (its token or its deadline) resets the stream at once, not at the
        // caller's next read: a caller that cancels and stops reading leaves nothing open on the server.
        using var resetOnCancel = token.UnsafeRegister(static state => ((HttpResponseMessage)state!).Dispose(), response);
        using (response)
        await using (body.ConfigureAwait(false))
        {
            while (true)
            {
                TResponse? message;
                try
                {
                    message = await GrpcMessageFraming.ReadMessageAsync(body, parser, _readOptions, token).ConfigureAwait(false);
                }
                catch (Exception e) when (token.IsCancellationRequested && e is OperationCanceledException or IOException or ObjectDisposedException or HttpRequestException)
                {
                    // Cancelled: the read saw the token, or the stream the registration above reset under it.
                    if (deadline?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
                    {
                        throw new GrpcStatusException(GrpcStatusCode.DeadlineExceeded, $"The call did not complete within {timeout}.");
                    }

                    throw new OperationCanceledException(e.Message, e, cancellationToken);
                }
                catch (IOException e) when (!token.IsCancellationRequested)
                {
                    throw new GrpcStatusException(GrpcStatusCode.Unavailable, $"The stream broke: {e.Message}", null, e);
                }

                if (message is null)
                {
                    break;
                }

                yield return message;
            }

            if (!trailersOnly)
            {
                ThrowIfError(response.TrailingHeaders, trailersOnly: false);
            }
        }
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task<HttpResponseMessage> SendAsync(string method, IMessage request, GrpcCallOptions? options, TimeSpan? timeout, CancellationToken token)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, method)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new FramedContent(request),
        };
        message.Headers.TE.Add(new TransferCodingWithQualityHeaderValue(GrpcHeaders.TeTrailers));
        if (timeout is { } t && t != Timeout.InfiniteTimeSpan)
        {
            message.Headers.TryAddWithoutValidation(GrpcHeaders.Timeout, GrpcTimeout.Format(t));
        }

        // Precedence, one value per name: a per-call header, then the API key (authorization),
        // then a default header.
        var perCall = options?.Headers;
        foreach (var (name, value) in _options.DefaultHeaders)
        {
            bool replacedByKey = _authorization is not null && name.Equals(AuthorizationHeader, StringComparison.OrdinalIgnoreCase);
            if (!replacedByKey && !HasHeader(perCall, name))
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        if (_authorization is not null && !HasHeader(perCall, AuthorizationHeader))
        {
            message.Headers.TryAddWithoutValidation(AuthorizationHeader, _authorization);
        }

        if (perCall is not null)
        {
            foreach (var (name, value) in perCall)
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, token).ConfigureAwait(false);
        try
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new GrpcStatusException(FromHttpStatus(response.StatusCode), $"HTTP {(int)response.StatusCode} from the server: {ReadStatusMessage(response.Headers) ?? response.ReasonPhrase}.");
            }

            ThrowIfError(response.Headers, trailersOnly: true);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static void ThrowIfError(HttpHeaders headers, bool trailersOnly)
    {
        if (!headers.TryGetValues(GrpcHeaders.Status, out var values))
        {
            if (trailersOnly)
            {
                return; // a normal response: the status comes in the trailers
            }

            throw new GrpcStatusException(GrpcStatusCode.Internal, "The response ended without a grpc-status.");
        }

        var text = values.FirstOrDefault();
        if (!GrpcHeaders.TryParseStatusCode(text, out var code))
        {
            throw new GrpcStatusException(GrpcStatusCode.Unknown, $"Unreadable grpc-status '{text}'.");
        }

        if (code == GrpcStatusCode.Ok)
        {
            return;
        }

        var details = headers.TryGetValues(GrpcHeaders.StatusDetailsBin, out var d) ? d.FirstOrDefault() : null;
        throw GrpcStatusException.FromStatusHeaders(code, ReadStatusMessage(headers), details);
    }

    private static string? ReadStatusMessage(HttpHeaders headers) =>
        headers.TryGetValues(GrpcHeaders.Message, out var m) && m.FirstOrDefault() is { } raw ? GrpcStatusMessage.Decode(raw) : null;

    private static GrpcStatusCode FromHttpStatus(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => GrpcStatusCode.Internal,
        HttpStatusCode.Unauthorized => GrpcStatusCode.Unauthenticated,
        HttpStatusCode.Forbidden => GrpcStatusCode.PermissionDenied,
        HttpStatusCode.NotFound => GrpcStatusCode.Unimplemented,
        HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout => GrpcStatusCode.Unavailable,
        _ => GrpcStatusCode.Unknown,
    };

    private static CancellationTokenSource? CreateDeadline(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (timeout is not { } t || t == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        // A deadline that has already passed cannot be sent as grpc-timeout (GrpcTimeout.Format
        // and CancelAfter both throw ArgumentOutOfRangeException): the call fails locally.
        if (t <= TimeSpan.Zero)
        {
            throw new GrpcStatusException(GrpcStatusCode.DeadlineExceeded, $"The deadline had already passed (timeout {t}).");
        }

        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(t);
        return source;
    }

    private static async Task DrainAsync(Stream body, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            while (await body.ReadAsync(buffer, token).ConfigureAwait(false) > 0)
            {
                // A unary response carries one message; anything after it is ignored.
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>A request body holding one framed message.</summary>
    private sealed class FramedContent : HttpContent
    {
        private readonly byte[] _frame;

        public FramedContent(IMessage message)
        {
            var size = message.CalculateSize();
            _frame = new byte[GrpcMessageFraming.HeaderSize + size];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(_frame.AsSpan(1), (uint)size);
            message.WriteTo(_frame.AsSpan(GrpcMessageFraming.HeaderSize));
            Headers.ContentType = s_grpcContentType;
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(_frame).AsTask();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            stream.WriteAsync(_frame, cancellationToken).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = _frame.Length;
            return true;
        }
    }
}
