using Grpc.Core;

namespace FiberManager.Client.Tests.TestSupport;

/// <summary>The real service on Kestrel with a <see cref="CallLog"/> in front of it, shared by the tests of a class.</summary>
public class ServiceFixture : IAsyncLifetime
{
    public ServiceHost Host { get; private set; } = null!;

    public CallLog Log { get; } = new();

    /// <summary>Call options that name the call in the <see cref="CallLog"/> and make its first <paramref name="failAttempts"/> attempts fail with UNAVAILABLE.</summary>
    public static CallOptions Marked(string call, int failAttempts = 0) => new(headers: MarkedHeaders(call, failAttempts));

    public static Metadata MarkedHeaders(string call, int failAttempts = 0)
    {
        var headers = new Metadata { { CallLog.CallHeader, call } };
        if (failAttempts > 0)
        {
            headers.Add(CallLog.FailHeader, failAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return headers;
    }

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(Settings(), Log.AddTo);

    public async Task DisposeAsync() => await Host.DisposeAsync();

    /// <summary>The service's settings for this fixture.</summary>
    protected virtual Dictionary<string, string?> Settings() => new() { ["FiberManager:InterruptGracePeriod"] = "00:00:02" };
}
