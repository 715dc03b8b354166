using System.Diagnostics;
using FiberManager.Protocol;
using Microsoft.AspNetCore.Http;

namespace FiberManager.Service.Grpc;

/// <summary>
/// One gRPC call on the server: its HTTP context, method, deadline and cancellation. The token
/// is cancelled when the client resets the stream, the deadline passes, or (for streaming
/// calls) the server stops.
/// </summary>
[DebuggerDisplay("{Method}")]
public sealed class GrpcCallContext : IDisposable
{
    private readonly CancellationTokenSource? _linked;
    private readonly CancellationTokenSource? _deadline;

    internal GrpcCallContext(HttpContext httpContext, string method, TimeSpan? timeout, CancellationToken serverStopping)
    {
        HttpContext = httpContext;
        Method = method;
        if (timeout is { } t)
        {
            // grpc-timeout goes up to 99,999,999 hours (~11,400 years): past year 9999 the deadline is the end of time.
            var now = DateTimeOffset.UtcNow;
            Deadline = t < DateTimeOffset.MaxValue - now ? now + t : DateTimeOffset.MaxValue;
            _deadline = new CancellationTokenSource();
            if (t <= TimeSpan.Zero)
            {
                _deadline.Cancel(); // "0S": the deadline has already passed
            }
            else if (t < TimeSpan.FromDays(49))
            {
                // CancellationTokenSource accepts at most ~49 days; a longer deadline is no deadline in practice.
                _deadline.CancelAfter(t);
            }
        }

        if (_deadline is null && !serverStopping.CanBeCanceled)
        {
            CancellationToken = httpContext.RequestAborted;
        }
        else
        {
            _linked = CancellationTokenSource.CreateLinkedTokenSource(
                httpContext.RequestAborted,
                _deadline?.Token ?? CancellationToken.None,
                serverStopping);
            CancellationToken = _linked.Token;
        }
    }

    /// <summary>The HTTP/2 request carrying the call.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The full method name, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>When the client's deadline passes, if it sent <c>grpc-timeout</c>.</summary>
    public DateTimeOffset? Deadline { get; }

    /// <summary>Cancelled on client cancellation, deadline, or server stop (streaming calls).</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The request headers (metadata).</summary>
    public IHeaderDictionary RequestHeaders => HttpContext.Request.Headers;

    /// <summary>True once the deadline has passed.</summary>
    public bool DeadlineExceeded => _deadline?.IsCancellationRequested == true;

    /// <summary>True once the client has gone away.</summary>
    public bool ClientCancelled => HttpContext.RequestAborted.IsCancellationRequested;

    /// <summary>How request messages are read: size limit and the client's <c>grpc-encoding</c>.</summary>
    internal GrpcMessageReadOptions ReadOptions { get; init; } = GrpcMessageReadOptions.Default;

    /// <summary>The API key the call was authorized with (null when API keys are off).</summary>
    internal ApiKeyCaller? Caller { get; set; }

    /// <summary>True once a response message has been written (errors then go in trailers).</summary>
    internal bool MessageWritten { get; set; }

    /// <inheritdoc/>
    public void Dispose()
    {
        _linked?.Dispose();
        _deadline?.Dispose();
    }
}

/// <summary>Writes the messages of a streaming response.</summary>
/// <typeparam name="T">The message type.</typeparam>
public interface IServerStreamWriter<in T>
{
    /// <summary>Writes and flushes one message.</summary>
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>Reads the messages of a streaming request.</summary>
/// <typeparam name="T">The message type.</typeparam>
public interface IAsyncStreamReader<T>
{
    /// <summary>Reads the next message; null when the client has finished sending.</summary>
    ValueTask<T?> ReadAsync(CancellationToken cancellationToken = default);
}
