namespace FiberManager.Testing;

/// <summary>The hardening tests' addition to the shared host: a raw HTTP/2 client for malformed calls.</summary>
public sealed partial class ServiceHost
{
    private RawGrpcClient? _raw;

    /// <summary>A bare gRPC client on one connection of its own, disposed with the host.</summary>
    public RawGrpcClient Raw
    {
        get
        {
            lock (_owned)
            {
                return _raw ??= Own(new RawGrpcClient(Address));
            }
        }
    }
}
