using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// A manual clock per test, and managers that are shut down (bounded) when the test ends, so
/// that a shutdown that hangs fails the test instead of the run.
/// </summary>
public abstract class ManagerTestBase : IAsyncLifetime
{
    private readonly List<FiberSupervisor<int, int>> _managers = [];

    protected ManualTimeProvider Clock { get; } = new();

    protected FiberSupervisor<int, int> NewManager(Action<FiberSupervisorOptions>? configure = null) => NewManager(Clock, configure);

    /// <summary>A manager on another clock (one that wraps <see cref="Clock"/>, say).</summary>
    protected FiberSupervisor<int, int> NewManager(TimeProvider clock, Action<FiberSupervisorOptions>? configure = null)
    {
        var manager = ManagerTesting.Create(clock, configure);
        _managers.Add(manager);
        return manager;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var manager in _managers)
        {
            await manager.DisposeAsync().DefaultTimeout();
        }
    }
}
