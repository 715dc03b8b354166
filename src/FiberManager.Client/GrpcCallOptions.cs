using System.Security.Cryptography.X509Certificates;

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
/// <example><code>
/// // TLS with a private CA, a client certificate (mTLS) and an API key:
/// using var client = new FiberManagerClient(new FiberManagerClientOptions
/// {
///     Address = new Uri("https://fibermanager.internal:50051"),
///     ApiKey = Environment.GetEnvironmentVariable("FIBERMANAGER_API_KEY"),
///     ClientCertificate = X509Certificate2.CreateFromPemFile("client.crt", "client.key"),
///     ServerCertificateAuthority = X509CertificateLoader.LoadCertificateFromFile("ca.crt"),
/// });
/// </code></example>
public sealed class FiberManagerClientOptions
{
    /// <summary>The service's address, for example <c>http://127.0.0.1:50051</c> (h2c) or <c>https://fibers.example.com</c>.</summary>
    public Uri Address { get; set; } = new("http://127.0.0.1:50051");

    /// <summary>The deadline of calls that give none (default: none for Subscribe, 30 s for unary calls).</summary>
    public TimeSpan DefaultUnaryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest message accepted from the server (default 4 MiB).</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Headers sent with every call; a per-call <see cref="GrpcCallOptions.Headers"/> entry with the same name (any case) replaces one for that call.</summary>
    public IDictionary<string, string> DefaultHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// An API key, sent as <c>authorization: Bearer &lt;key&gt;</c> on every call (null: none).
    /// It replaces an <c>authorization</c> header in <see cref="DefaultHeaders"/>; a per-call
    /// <see cref="GrpcCallOptions.Headers"/> <c>authorization</c> replaces it for that call. Use
    /// TLS: over cleartext the key is readable on the network.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// A client certificate with its private key, presented when the server asks for one (mutual
    /// TLS, <c>FiberManager:Server:ClientCertificateMode</c>). Used only by clients that create
    /// their own connections (the <see cref="FiberManagerClient(FiberManagerClientOptions)"/>
    /// constructor); a client over your own <see cref="HttpClient"/> uses that client's handler.
    /// </summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// A certificate authority to trust for the server's certificate instead of the machine's
    /// store (a private CA): the server's chain must end at this certificate and its name must
    /// match <see cref="Address"/>. Null (default): the machine's trust store. Same scope as
    /// <see cref="ClientCertificate"/>.
    /// </summary>
    public X509Certificate2? ServerCertificateAuthority { get; set; }
}
