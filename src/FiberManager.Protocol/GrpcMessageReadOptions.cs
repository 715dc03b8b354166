namespace FiberManager.Protocol;

/// <summary>Limits and context for reading length-prefixed gRPC messages.</summary>
/// <example>
/// <code>
/// var options = new GrpcMessageReadOptions
/// {
///     MaxMessageSize = 1024 * 1024,
///     MessageEncoding = request.Headers[GrpcHeaders.Encoding],
/// };
/// </code>
/// </example>
public sealed class GrpcMessageReadOptions
{
    /// <summary>The default <see cref="MaxMessageSize"/>: 4 MiB, gRPC's usual receive limit.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    private readonly int _maxMessageSize = DefaultMaxMessageSize;

    /// <summary>Options with every default.</summary>
    public static GrpcMessageReadOptions Default { get; } = new();

    /// <summary>
    /// The largest message accepted, in bytes, not counting the 5-byte prefix. A larger length
    /// prefix fails with <see cref="GrpcStatusCode.ResourceExhausted"/> before any of the message
    /// is buffered. Default <see cref="DefaultMaxMessageSize"/>; must not be negative.
    /// </summary>
    public int MaxMessageSize
    {
        get => _maxMessageSize;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _maxMessageSize = value;
        }
    }

    /// <summary>
    /// The peer's <c>grpc-encoding</c> header value, or <see langword="null"/> when it sent none.
    /// Only used to choose the status of a message whose compressed flag is set (FiberManager
    /// decompresses nothing): see <see cref="GrpcMessageFraming"/>.
    /// </summary>
    public string? MessageEncoding { get; init; }
}
