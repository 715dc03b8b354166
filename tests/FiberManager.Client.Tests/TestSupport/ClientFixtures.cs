using Grpc.Core;

namespace FiberManager.Client.Tests.TestSupport;

/// <summary>Unique fiber ids and call names, so tests sharing a host never collide.</summary>
public static class Ids
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}

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

/// <summary>A service that requires API keys: <see cref="Key"/> may read and control, <see cref="OtherKey"/> too.</summary>
public sealed class SecuredServiceFixture : ServiceFixture
{
    public const string Key = "client-tests-key-0123456789abcdef";
    public const string OtherKey = "client-tests-other-0123456789abcdef";

    protected override Dictionary<string, string?> Settings()
    {
        var settings = base.Settings();
        string[] keys = [Key, OtherKey];
        for (var i = 0; i < keys.Length; i++)
        {
            settings[$"FiberManager:Security:ApiKeys:{i}:Key"] = keys[i];
            settings[$"FiberManager:Security:ApiKeys:{i}:Name"] = "key" + i;
            settings[$"FiberManager:Security:ApiKeys:{i}:Permissions"] = "Read, Control";
        }

        return settings;
    }
}

/// <summary>A service with a small replay window (<see cref="ReplayCapacity"/> events), so that a subscriber that reconnects late misses events.</summary>
public sealed class SmallReplayServiceFixture : ServiceFixture
{
    public const int ReplayCapacity = 4;

    protected override Dictionary<string, string?> Settings()
    {
        var settings = base.Settings();
        settings["FiberManager:ReplayCapacity"] = ReplayCapacity.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }
}
