namespace FiberManager.Client.Tests.TestSupport;

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
