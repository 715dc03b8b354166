namespace FiberManager.Client.Tests.TestSupport;

/// <summary>Unique fiber ids and call names, so tests sharing a host never collide.</summary>
public static class Ids
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
