using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using FiberManager.Protocol;
using Google.Protobuf;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// Subscribe over a raw HTTP/2 connection of its own, for clients that misbehave: one that stops
/// reading (so HTTP/2 flow control fills up), one that resets its stream, one whose TCP
/// connection is dropped (RST) under it.
/// </summary>
public sealed class RawStreamClient : IDisposable
{
    private readonly ConcurrentQueue<Socket> _sockets = new();
    private readonly HttpClient _http;

    public RawStreamClient(Uri address)
    {
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
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
            },
        })
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Opens a Subscribe stream and returns once the response headers arrived (the server writes them with the first event).</summary>
    public async Task<RawEventStream> SubscribeAsync(string fiberId, ulong fromSequence = 0)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/fibermanager.v1.FiberManager/Subscribe")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(RawGrpcClient.Frame(new V1.SubscribeRequest { FiberId = fiberId, FromSequence = fromSequence })),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).DefaultTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return new RawEventStream(request, response, await response.Content.ReadAsStreamAsync());
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
}

/// <summary>One raw Subscribe stream: read its events one at a time, or dispose it mid-stream (RST_STREAM).</summary>
public sealed class RawEventStream(HttpRequestMessage request, HttpResponseMessage response, Stream body) : IDisposable
{
    private readonly byte[] _header = new byte[GrpcMessageFraming.HeaderSize];

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async Task<V1.FiberEvent?> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        if (await body.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, timeout.Token) == 0)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
        var message = new byte[length];
        await body.ReadExactlyAsync(message, timeout.Token);
        return V1.FiberEvent.Parser.ParseFrom(message);
    }

    /// <summary>Every remaining event, then the grpc-status of the trailers.</summary>
    public async Task<(List<V1.FiberEvent> Events, string? Status)> ReadToEndAsync()
    {
        var events = new List<V1.FiberEvent>();
        for (var i = 0; i < 1_000_000; i++)
        {
            if (await ReadAsync() is not { } e)
            {
                var status = response.TrailingHeaders.TryGetValues(GrpcHeaders.Status, out var values) ? values.First() : null;
                return (events, status);
            }

            events.Add(e);
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
