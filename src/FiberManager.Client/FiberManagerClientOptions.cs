using System.Security.Cryptography.X509Certificates;

namespace FiberManager.Client;

/// <summary>Options of <see cref="FiberManagerClient"/>. The client copies and checks them when it is created.</summary>
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

    /// <summary>
    /// The deadline of unary calls whose <see cref="Grpc.Core.CallOptions"/> give none (default 30 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/>: none). Subscribe has no default deadline. A call that
    /// wants no deadline at all passes <c>new CallOptions(deadline: DateTime.MaxValue)</c>.
    /// </summary>
    public TimeSpan DefaultUnaryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest message accepted from the server (default 4 MiB).</summary>
    public int MaxReceiveMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Headers (gRPC metadata) sent with every call. A header of the same name (any case) in a call's
    /// <see cref="Grpc.Core.CallOptions.Headers"/> replaces the default one for that call.
    /// </summary>
    public IDictionary<string, string> DefaultHeaders { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// An API key, sent as <c>authorization: Bearer &lt;key&gt;</c> on every call (null: none).
    /// It replaces an <c>authorization</c> header in <see cref="DefaultHeaders"/>; an
    /// <c>authorization</c> header in a call's <see cref="Grpc.Core.CallOptions.Headers"/> replaces it
    /// for that call. Use TLS: over cleartext the key is readable on the network.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// A client certificate with its private key, presented when the server asks for one (mutual
    /// TLS, <c>FiberManager:Server:ClientCertificateMode</c>). It configures the client's own
    /// connections (its <see cref="SocketsHttpHandler"/>); a client over your own channel
    /// (<see cref="FiberManagerClient(Grpc.Core.ChannelBase, FiberManagerClientOptions?)"/>) takes
    /// it from that channel's handler instead.
    /// </summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// A certificate authority to trust for the server's certificate instead of the machine's
    /// store (a private CA): the server's chain must end at this certificate and its name must
    /// match <see cref="Address"/>. Null (default): the machine's trust store. Same scope as
    /// <see cref="ClientCertificate"/>.
    /// </summary>
    public X509Certificate2? ServerCertificateAuthority { get; set; }

    /// <summary>
    /// How Start and Submit calls that are safe to repeat are retried when the service is
    /// UNAVAILABLE: a Start with a <c>request_id</c> and a Submit with a <c>submit_id</c> (the
    /// server recognises the repeat). Other calls are never retried. Defaults: 4 retries from
    /// 200 ms up to 5 s apart, within the call's deadline. Applies to the client's own
    /// connections; a client over your own channel uses that channel's retry policy.
    /// </summary>
    public FiberManagerRetryOptions Retry { get; } = new();

    /// <summary>
    /// How Subscribe reopens its stream after the connection broke (UNAVAILABLE, the stream or the
    /// connection reset), from the last event sequence it delivered. The retries count the
    /// reopenings that fail before an event arrives; each event starts the count again. Defaults:
    /// 8 retries from up to 500 ms to up to 10 s apart (about 20 s in all on average, at most 45 s:
    /// time for a service to restart; grpc-dotnet itself reconnects from 1 s apart meanwhile).
    /// </summary>
    public FiberManagerRetryOptions SubscribeResume { get; } = new()
    {
        MaxRetries = 8,
        InitialBackoff = TimeSpan.FromMilliseconds(500),
        MaxBackoff = TimeSpan.FromSeconds(10),
    };

    /// <summary>Every problem with the options (empty when valid).</summary>
    public IReadOnlyList<string> GetErrors()
    {
        var errors = new List<string>();
        if (Address is null || !Address.IsAbsoluteUri || (Address.Scheme != Uri.UriSchemeHttp && Address.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"Address must be an absolute http:// or https:// URL (got '{Address}').");
        }

        if (DefaultUnaryTimeout <= TimeSpan.Zero && DefaultUnaryTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"DefaultUnaryTimeout must be positive or Timeout.InfiniteTimeSpan (got {DefaultUnaryTimeout}).");
        }

        if (MaxReceiveMessageSize < 1)
        {
            errors.Add($"MaxReceiveMessageSize must be at least 1 byte (got {MaxReceiveMessageSize}).");
        }

        if (ApiKey is { } key && (key.Length == 0 || key.Any(char.IsControl) || key.Trim().Length != key.Length))
        {
            errors.Add("ApiKey must be non-empty, without control characters or surrounding spaces.");
        }

        foreach (var (name, value) in DefaultHeaders)
        {
            // gRPC metadata: names of a-z 0-9 - _ . (any case here: sent in lower case); "-bin" names carry bytes, not text.
            if (string.IsNullOrEmpty(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || name.EndsWith("-bin", StringComparison.OrdinalIgnoreCase)
                || value is null || value.Any(char.IsControl))
            {
                errors.Add($"DefaultHeaders['{name}'] is not a text gRPC header (a name of letters, digits, '-', '_' or '.' not ending in -bin; a value without control characters).");
            }
        }

        if (ClientCertificate is { HasPrivateKey: false })
        {
            errors.Add("ClientCertificate needs its private key.");
        }

        errors.AddRange(Retry.GetErrors(nameof(Retry)));
        errors.AddRange(SubscribeResume.GetErrors(nameof(SubscribeResume)));
        return errors;
    }
}
