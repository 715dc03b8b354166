using FiberManager.Core.Management;

namespace FiberManager.Core.Tests.Management;

public sealed class PermitPoolTests
{
    [Fact]
    public void Release_WaiterQueued_GrantedAndDeliveredInArrivalOrder()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var first = new Recipient();
        var second = new Recipient();
        Assert.False(pool.TryAcquireOrEnqueue(first, out var firstWaiter));
        Assert.False(pool.TryAcquireOrEnqueue(second, out _));

        pool.Release();

        Assert.Equal([firstWaiter!], first.Granted);
        Assert.Empty(second.Granted);
        Assert.Equal(PermitPool.WaiterState.Delivered, firstWaiter!.State);
        Assert.Equal(1, pool.InUse);
        Assert.Equal(1, pool.Waiting);
    }

    [Fact]
    public void TryAcquireOrEnqueue_PermitFree_AcquiresWithoutQueueing()
    {
        var pool = new PermitPool(1);

        Assert.True(pool.TryAcquireOrEnqueue(new Recipient(), out var waiter));

        Assert.Null(waiter);
        Assert.Equal(1, pool.InUse);
        Assert.False(pool.TryAcquire());
    }

    [Fact]
    public void TryWithdraw_StillQueued_LeavesTheQueueHoldingNothing()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipient = new Recipient();
        Assert.False(pool.TryAcquireOrEnqueue(recipient, out var waiter));

        Assert.Equal(PermitPool.WithdrawResult.Withdrawn, waiter!.TryWithdraw());
        pool.Release();

        Assert.Empty(recipient.Granted);
        Assert.Equal(0, pool.InUse);
        Assert.Equal(0, pool.Waiting);
    }

    [Fact]
    public void TryWithdraw_GrantedButNotYetClaimed_TakesThePermitOver_AndTheClaimFails()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipient = new Recipient { Claims = false };
        Assert.False(pool.TryAcquireOrEnqueue(recipient, out var waiter));
        pool.Release();
        Assert.Equal(PermitPool.WaiterState.Granted, waiter!.State);

        Assert.Equal(PermitPool.WithdrawResult.PermitTaken, waiter.TryWithdraw());

        Assert.False(waiter.TryClaim());
        Assert.Equal(1, pool.InUse); // the withdrawer holds it
        pool.Release();
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void TryWithdraw_AfterTheClaim_ReportsAlreadyDelivered()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipient = new Recipient();
        Assert.False(pool.TryAcquireOrEnqueue(recipient, out var waiter));
        pool.Release();

        Assert.Equal(PermitPool.WithdrawResult.AlreadyDelivered, waiter!.TryWithdraw());
        Assert.Equal(1, pool.InUse);
    }

    [Fact]
    public void Release_AfterCloseGrants_AdmitsNobody_WaiterStaysWithdrawable()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipient = new Recipient();
        Assert.False(pool.TryAcquireOrEnqueue(recipient, out var waiter));

        pool.CloseGrants();
        pool.Release();

        Assert.Empty(recipient.Granted);
        Assert.Equal(0, pool.InUse);
        Assert.Equal(PermitPool.WithdrawResult.Withdrawn, waiter!.TryWithdraw());
        Assert.Equal(0, pool.Waiting);
    }

    [Fact]
    public void Resize_AfterCloseGrants_AdmitsNobody()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipient = new Recipient();
        Assert.False(pool.TryAcquireOrEnqueue(recipient, out var waiter));

        pool.CloseGrants();
        pool.Resize(4);

        Assert.Empty(recipient.Granted);
        Assert.Equal(PermitPool.WithdrawResult.Withdrawn, waiter!.TryWithdraw());
    }

    [Fact]
    public void Resize_Grow_DeliversToEveryWaiterThatFits()
    {
        var pool = new PermitPool(1);
        Assert.True(pool.TryAcquire());
        var recipients = Enumerable.Range(0, 3).Select(_ => new Recipient()).ToArray();
        foreach (var recipient in recipients)
        {
            Assert.False(pool.TryAcquireOrEnqueue(recipient, out _));
        }

        pool.Resize(3);

        Assert.Equal([1, 1, 0], recipients.Select(r => r.Granted.Count));
        Assert.Equal(3, pool.InUse);
        Assert.Equal(1, pool.Waiting);
    }

    /// <summary>Claims what it is granted (unless told not to) and records it.</summary>
    private sealed class Recipient : IPermitRecipient
    {
        public bool Claims { get; init; } = true;

        public List<PermitPool.Waiter> Granted { get; } = [];

        public void OnPermitGranted(PermitPool.Waiter waiter)
        {
            if (!Claims || waiter.TryClaim())
            {
                Granted.Add(waiter);
            }
        }
    }
}
