namespace FiberManager.Testing
{
    /// <summary>The functional tests' defaults: unexpected errors carry their details.</summary>
    public sealed partial class ServiceHost
    {
        static partial void AddProjectDefaults(IDictionary<string, string?> settings) =>
            settings["FiberManager:Server:DetailedErrors"] = "true";
    }
}

namespace FiberManager.Service.Tests
{
    /// <summary>
    /// One service shared by the tests of a class (fibers use unique ids per test), with the test
    /// workflows registered and a short interrupt grace period so that shutdown stays quick.
    /// </summary>
    public sealed class SharedServiceFixture : IAsyncLifetime
    {
        public ServiceHost Host { get; private set; } = null!;

        public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(
            new Dictionary<string, string?> { ["FiberManager:InterruptGracePeriod"] = "00:00:02" },
            TestWorkflows.Register);

        public async Task DisposeAsync() => await Host.DisposeAsync();
    }
}
