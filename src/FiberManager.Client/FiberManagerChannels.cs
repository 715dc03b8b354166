using System.Net.Http;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Stub = FiberManager.Protocol.V1.FiberManager.FiberManagerClient;

namespace FiberManager.Client;

/// <summary>
/// The connections of a client that makes its own: two channels, one that never retries and one
/// whose service config retries Start and Submit on UNAVAILABLE, for the requests that are safe
/// to repeat. Each has its own <see cref="SocketsHttpHandler"/>, which it disposes; the second
/// connects only when such a request is made.
/// </summary>
/// <remarks>
/// Two channels because grpc-dotnet's retry policy is chosen per method, and whether a Start or
/// a Submit may be repeated depends on the request (a <c>request_id</c> or a <c>submit_id</c>).
/// The same configuration is used by <see cref="FiberManagerClientServiceCollectionExtensions.AddFiberManagerClient"/>
/// through the gRPC client factory.
/// </remarks>
internal sealed class FiberManagerChannels : IDisposable
{
    private readonly GrpcChannel _channel;
    private readonly GrpcChannel _idempotentChannel;

    public FiberManagerChannels(ClientSettings settings)
    {
        _channel = Create(settings, idempotent: false);
        _idempotentChannel = Create(settings, idempotent: true);
        var defaults = new CallDefaultsInterceptor(settings);
        Calls = new Stub(_channel.Intercept(defaults));
        IdempotentCalls = new Stub(_idempotentChannel.Intercept(defaults));
    }

    /// <summary>Every call but a Start with a request id or a Submit with a submit id: never retried.</summary>
    public Stub Calls { get; }

    /// <summary>A Start with a request id or a Submit with a submit id: retried on UNAVAILABLE.</summary>
    public Stub IdempotentCalls { get; }

    /// <summary>The handler of the client's connections: HTTP/2 keep-alive pings, more connections when streams run out, the client certificate and the private CA.</summary>
    public static SocketsHttpHandler CreateHandler(ClientSettings settings)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        if (settings.ClientCertificate is { } clientCertificate)
        {
            // Present it whatever CA names the server lists in its request.
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        if (settings.ServerCertificateAuthority is { } authority)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ServerCertificateTrust.IsTrusted(certificate, errors, authority);
        }

        return handler;
    }

    /// <summary>Sets the message size limit and, on the idempotent channel, the retry policy of Start and Submit.</summary>
    public static GrpcChannelOptions Configure(GrpcChannelOptions channel, ClientSettings settings, bool idempotent)
    {
        channel.MaxReceiveMessageSize = settings.MaxReceiveMessageSize;
        if (idempotent && settings.Retry.MaxRetries > 0)
        {
            channel.MaxRetryAttempts = settings.Retry.MaxRetries + 1;
            channel.ServiceConfig = RetryConfig(settings.Retry);
        }

        return channel;
    }

    public void Dispose()
    {
        _channel.Dispose();
        _idempotentChannel.Dispose();
    }

    private static GrpcChannel Create(ClientSettings settings, bool idempotent) =>
        GrpcChannel.ForAddress(settings.Address, Configure(new GrpcChannelOptions { HttpHandler = CreateHandler(settings), DisposeHttpClient = true }, settings, idempotent));

    private static ServiceConfig RetryConfig(RetrySettings retry)
    {
        var service = Protocol.V1.FiberManager.Descriptor.FullName;
        return new ServiceConfig
        {
            MethodConfigs =
            {
                new MethodConfig
                {
                    Names =
                    {
                        new MethodName { Service = service, Method = "Start" },
                        new MethodName { Service = service, Method = "Submit" },
                    },
                    RetryPolicy = new RetryPolicy
                    {
                        MaxAttempts = retry.MaxRetries + 1,
                        InitialBackoff = retry.InitialBackoff,
                        MaxBackoff = retry.MaxBackoff,
                        BackoffMultiplier = 2,
                        RetryableStatusCodes = { StatusCode.Unavailable },
                    },
                },
            },
        };
    }
}
