using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class InterruptTests : ManagerTestBase
{
    [Fact]
    public async Task Interrupt_RightAfterStart_EndsAtOnceWithoutAbandoning()
    {
        var manager = NewManager(o => o.InterruptGracePeriod = TimeSpan.FromHours(1));
        for (var i = 0; i < 50; i++)
        {
            var probe = new ProbeWorkflow();
            var id = $"f{i}";
            await manager.StartAsync(id, "probe", probe).DefaultTimeout();

            // The clock never moves: the fiber must end without its grace period expiring,
            // whether or not its body got to run.
            var final = await manager.InterruptAsync(id).DefaultTimeout();

            Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
            Assert.False(final.Termination!.Abandoned);
            Assert.Single(probe.Terminations);
        }

        Assert.Equal(0, manager.GetStatistics().AbandonedFibers);
        manager.AssertSettled(0);
    }
}
