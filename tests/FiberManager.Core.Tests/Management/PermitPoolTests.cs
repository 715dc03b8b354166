using FiberManager.Core.Management;

namespace FiberManager.Core.Tests.Management;

public sealed class PermitPoolTests
{
    [Fact]
    public void Release_WaiterQueued_GrantedInArrivalOrder()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var first = pool.Enqueue();
        var second = pool.Enqueue();

        pool.Release();

        Assert.True(first.Task.IsCompletedSuccessfully);
        Assert.False(second.Task.IsCompleted);
        Assert.Equal(1, pool.InUse);
        Assert.Equal(1, pool.Waiting);
    }

    [Fact]
    public void Release_AfterCloseGrants_AdmitsNobody_WaiterStaysCancellable()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var waiter = pool.Enqueue();

        pool.CloseGrants();
        pool.Release();

        Assert.False(waiter.Task.IsCompleted);
        Assert.Equal(0, pool.InUse);
        Assert.True(waiter.TryCancel());
        Assert.Equal(0, pool.Waiting);
    }

    [Fact]
    public void Resize_AfterCloseGrants_AdmitsNobody()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var waiter = pool.Enqueue();

        pool.CloseGrants();
        pool.Resize(4);

        Assert.False(waiter.Task.IsCompleted);
        Assert.True(waiter.TryCancel());
    }
}
