using System.Security.Cryptography.X509Certificates;
using Grpc.Core;

namespace FiberManager.Client;

/// <summary>An immutable, checked copy of <see cref="FiberManagerClientOptions"/>, taken when a client is created.</summary>
internal sealed class ClientSettings
{
    private const string AuthorizationHeader = "authorization";

    private ClientSettings(FiberManagerClientOptions options)
    {
        Address = options.Address;
        DefaultUnaryTimeout = options.DefaultUnaryTimeout == Timeout.InfiniteTimeSpan ? null : options.DefaultUnaryTimeout;
        MaxReceiveMessageSize = options.MaxReceiveMessageSize;
        ClientCertificate = options.ClientCertificate;
        ServerCertificateAuthority = options.ServerCertificateAuthority;
        Retry = RetrySettings.From(options.Retry);
        SubscribeResume = RetrySettings.From(options.SubscribeResume);

        // One value per name: the API key replaces a default authorization header.
        var headers = new List<Metadata.Entry>();
        foreach (var (name, value) in options.DefaultHeaders)
        {
            if (options.ApiKey is null || !name.Equals(AuthorizationHeader, StringComparison.OrdinalIgnoreCase))
            {
                headers.Add(new Metadata.Entry(name.ToLowerInvariant(), value));
            }
        }

        if (options.ApiKey is { } key)
        {
            headers.Add(new Metadata.Entry(AuthorizationHeader, "Bearer " + key));
        }

        DefaultHeaders = headers;
    }

    public Uri Address { get; }

    /// <summary>The deadline given to unary calls without one; null: none.</summary>
    public TimeSpan? DefaultUnaryTimeout { get; }

    public int MaxReceiveMessageSize { get; }

    /// <summary>The headers added to every call that does not set the same name itself (lower-case names).</summary>
    public IReadOnlyList<Metadata.Entry> DefaultHeaders { get; }

    public X509Certificate2? ClientCertificate { get; }

    public X509Certificate2? ServerCertificateAuthority { get; }

    public RetrySettings Retry { get; }

    public RetrySettings SubscribeResume { get; }

    /// <summary>Checks <paramref name="options"/> and copies them.</summary>
    /// <exception cref="ArgumentException">The options are not valid (the message lists every problem).</exception>
    public static ClientSettings From(FiberManagerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.GetErrors();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid FiberManagerClientOptions: " + string.Join(" ", errors), nameof(options));
        }

        return new ClientSettings(options);
    }
}
