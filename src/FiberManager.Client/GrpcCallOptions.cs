namespace FiberManager.Client;

/// <summary>Per-call options: a deadline and extra request headers (metadata).</summary>
/// <example><code>await client.GetStatusAsync("chat-1", new GrpcCallOptions { Timeout = TimeSpan.FromSeconds(2) });</code></example>
public sealed record GrpcCallOptions
{
    /// <summary>The call's deadline, sent as <c>grpc-timeout</c>; when it passes the call fails with DEADLINE_EXCEEDED. Null: the client's default.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Extra request headers (for example <c>authorization</c>).</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }
}

/// <summary>Options of <see cref="FiberManagerClient"/>.</summary>
public sealed class FiberManagerClientOptions
{
    /// <summary>The service's address, for example <c>http://127.0.0.1:50051</c> (h2c) or <c>https://fibers.example.com</c>.</summary>
    public Uri Address { get; set; } = new("http://127.0.0.1:50051");

    /// <summary>The deadline of calls that give none (default: none for Subscribe, 30 s for unary calls).</summary>
    public TimeSpan DefaultUnaryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest message accepted from the server (default 4 MiB).</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Headers sent with every call (for example an API key).</summary>
    public IDictionary<string, string> DefaultHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
}
