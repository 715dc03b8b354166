namespace FiberManager.Client.Tests.TestSupport;

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
