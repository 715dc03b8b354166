using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

public sealed class SupervisorBasicsTests
{
    [Fact]
    public async Task Start_Echo_SubmittedInputsArePublishedInOrder()
    {
        await using var manager = new FiberSupervisor<int, int>();
        var started = await manager.StartAsync("echo-1", "echo", TestWorkflows.Echo()).DefaultTimeout();
        Assert.True(started.Created);
        using var subscription = manager.Subscribe("echo-1");

        for (var i = 1; i <= 3; i++)
        {
            var result = await manager.SubmitAsync("echo-1", i).DefaultTimeout();
            Assert.Equal((ulong)i, result.Sequence);
        }

        var outputs = new List<int>();
        await foreach (var e in subscription.ReadAllAsync().WithCancellation(new CancellationTokenSource(TestTimeouts.Default).Token))
        {
            if (e.Kind == FiberEventKind.Output)
            {
                outputs.Add(e.Output);
                if (outputs.Count == 3)
                {
                    break;
                }
            }
        }

        Assert.Equal([1, 2, 3], outputs);
        var final = await manager.InterruptAsync("echo-1").DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Interrupted, final.Status);
        Assert.Equal(3, final.InputsProcessed);
        manager.CheckInvariants();
        Assert.Equal(0, manager.GetStatistics().PermitsInUse);
    }
}
