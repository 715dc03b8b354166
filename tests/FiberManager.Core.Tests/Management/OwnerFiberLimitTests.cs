using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// The per-owner cap on live fibers (<see cref="StartOptions.Owner"/>, <see cref="StartOptions.MaxFibersPerOwner"/>):
/// a fiber counts from registration until it ends, however it ends, exactly once.
/// </summary>
public sealed class OwnerFiberLimitTests : ManagerTestBase
{
    private static StartOptions Owned(string owner, int max, IdConflictPolicy conflict = IdConflictPolicy.Fail, string? requestId = null) =>
        new() { Owner = owner, MaxFibersPerOwner = max, Conflict = conflict, RequestId = requestId };

    [Fact]
    public async Task Start_OwnerAtLimit_ThrowsOwnerFiberLimitReachedWithCounts()
    {
        var manager = NewManager();
        await manager.StartAsync("a1", "parked", TestWorkflows.Parked(), Owned("alice", 2)).DefaultTimeout();
        await manager.StartAsync("a2", "parked", TestWorkflows.Parked(), Owned("alice", 2)).DefaultTimeout();

        var refused = await ThrowsCodeAsync(FiberErrorCode.OwnerFiberLimitReached, () => manager.StartAsync("a3", "parked", TestWorkflows.Parked(), Owned("alice", 2)));

        Assert.Equal("a3", refused.FiberId);
        Assert.Equal("alice", refused.Metadata["owner"]);
        Assert.Equal("2", refused.Metadata["max_fibers"]);
        Assert.Equal("2", refused.Metadata["live_fibers"]);
        Assert.Equal(2, manager.CountOwnedFibers("alice"));
        ThrowsCode(FiberErrorCode.NotFound, () => manager.GetStatus("a3"));
        manager.AssertSettled(2);
    }

    [Fact]
    public async Task Start_OtherOwnerOrNoOwner_NotLimitedByAnotherOwnersCount()
    {
        var manager = NewManager();
        await manager.StartAsync("a1", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout();

        Assert.True((await manager.StartAsync("b1", "parked", TestWorkflows.Parked(), Owned("bob", 1)).DefaultTimeout()).Created);
        Assert.True((await manager.StartAsync("n1", "parked", TestWorkflows.Parked()).DefaultTimeout()).Created);

        Assert.Equal(1, manager.CountOwnedFibers("alice"));
        Assert.Equal(1, manager.CountOwnedFibers("bob"));
        Assert.Equal("alice", manager.GetStatus("a1").Owner);
        Assert.Null(manager.GetStatus("n1").Owner);
        manager.AssertSettled(3);
    }

    [Fact]
    public async Task Start_ZeroLimit_IsUnlimitedButStillCounted()
    {
        var manager = NewManager();
        for (int i = 0; i < 5; i++)
        {
            await manager.StartAsync($"f{i}", "parked", TestWorkflows.Parked(), Owned("alice", 0)).DefaultTimeout();
        }

        Assert.Equal(5, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(5);
    }

    [Fact]
    public async Task Start_NegativeLimit_ThrowsInvalidArgument()
    {
        var manager = NewManager();
        var error = await ThrowsCodeAsync(FiberErrorCode.InvalidArgument, () => manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", -1)));
        Assert.Equal("max_fibers_per_owner", error.Metadata["field"]);
        manager.AssertSettled(0);
    }

    public enum Ending
    {
        Complete,
        Fail,
        Interrupt,
    }

    /// <summary>The count falls before the terminated event is published: once it is seen, the owner may start another fiber.</summary>
    [Theory]
    [InlineData(Ending.Complete)]
    [InlineData(Ending.Fail)]
    [InlineData(Ending.Interrupt)]
    public async Task FiberEnds_AnyWay_CountFallsBeforeTerminatedEvent(Ending ending)
    {
        var manager = NewManager();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var probe = new ProbeWorkflow(async ctx =>
        {
            await finish.Task.WaitAsync(ctx.CancellationToken);
            if (ending == Ending.Fail)
            {
                throw new InvalidOperationException("boom");
            }
        });
        await manager.StartAsync("f", "probe", probe, Owned("alice", 1)).DefaultTimeout();
        await probe.Started.Task.DefaultTimeout();
        using var subscription = manager.Subscribe("f");
        var countAtTermination = -1;
        var terminated = subscription.ReadUntilAsync(e =>
        {
            if (e.Kind == FiberEventKind.Terminated)
            {
                countAtTermination = manager.CountOwnedFibers("alice");
                return true;
            }

            return false;
        });

        if (ending == Ending.Interrupt)
        {
            await manager.InterruptAsync("f").DefaultTimeout();
        }
        else
        {
            finish.SetResult();
        }

        await terminated.DefaultTimeout();
        Assert.Equal(0, countAtTermination);
        var expected = ending switch
        {
            Ending.Complete => ManagedFiberStatus.Completed,
            Ending.Fail => ManagedFiberStatus.Failed,
            _ => ManagedFiberStatus.Interrupted,
        };
        Assert.Equal(expected, manager.GetStatus("f").Status);
        Assert.True((await manager.StartAsync("g", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout()).Created);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));
    }

    [Fact]
    public async Task InterruptTwice_ReleasesOnce()
    {
        var manager = NewManager();
        await manager.StartAsync("f1", "parked", TestWorkflows.Parked(), Owned("alice", 2)).DefaultTimeout();
        await manager.StartAsync("f2", "parked", TestWorkflows.Parked(), Owned("alice", 2)).DefaultTimeout();

        await manager.InterruptAsync("f1").DefaultTimeout();
        await manager.InterruptAsync("f1").DefaultTimeout();
        await Task.WhenAll(manager.InterruptAsync("f2"), manager.InterruptAsync("f2")).DefaultTimeout();

        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Shutdown_ReleasesEveryOwnersFibers()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 2);
        await manager.StartAsync("a1", "parked", TestWorkflows.Parked(), Owned("alice", 3)).DefaultTimeout();
        await manager.StartAsync("a2", "parked", TestWorkflows.Parked(), Owned("alice", 3)).DefaultTimeout();
        await manager.StartAsync("a3", "parked", TestWorkflows.Parked(), Owned("alice", 3) with { Admission = AdmissionMode.Queue }).DefaultTimeout();
        Assert.Equal(ManagedFiberStatus.Pending, manager.GetStatus("a3").Status);
        Assert.Equal(3, manager.CountOwnedFibers("alice"));

        await manager.DisposeAsync().DefaultTimeout();

        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        manager.CheckInvariants();
    }

    [Fact]
    public async Task PendingFiber_Counts_AndItsCancelledAdmissionReleases()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 1);
        await manager.StartAsync("running", "parked", TestWorkflows.Parked()).DefaultTimeout();
        using var giveUp = new CancellationTokenSource();
        var waiting = manager.StartAsync("waiting", "parked", TestWorkflows.Parked(), Owned("alice", 1) with { Admission = AdmissionMode.Wait, PermitTimeout = TimeSpan.FromHours(1) }, giveUp.Token);
        await manager.UntilStatusAsync("waiting", ManagedFiberStatus.Pending);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));
        await ThrowsCodeAsync(FiberErrorCode.OwnerFiberLimitReached, () => manager.StartAsync("other", "parked", TestWorkflows.Parked(), Owned("alice", 1) with { Admission = AdmissionMode.Queue }));

        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).DefaultTimeout();

        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task UseExisting_AtLimit_ReturnsTheFiberWithoutCountingAgain()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout();

        var again = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1, IdConflictPolicy.UseExisting)).DefaultTimeout();
        var byOther = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("bob", 1, IdConflictPolicy.UseExisting)).DefaultTimeout();

        Assert.False(again.Created);
        Assert.False(byOther.Created);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));
        Assert.Equal(0, manager.CountOwnedFibers("bob"));
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task RetriedStartWithRequestId_AtLimit_ReturnsTheFiberWithoutCountingAgain()
    {
        var manager = NewManager();
        var first = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1, requestId: "req-1")).DefaultTimeout();

        var retry = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1, requestId: "req-1")).DefaultTimeout();

        Assert.True(first.Created);
        Assert.False(retry.Created);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));

        // Retried after the fiber ended: still answered with it, still counts nothing.
        await manager.InterruptAsync("f").DefaultTimeout();
        var late = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1, requestId: "req-1")).DefaultTimeout();
        Assert.False(late.Created);
        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(0);
    }

    [Fact]
    public async Task Replace_OwnFiberAtLimit_Allowed_CountStays()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout();

        var replaced = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1, IdConflictPolicy.Replace)).DefaultTimeout();

        Assert.True(replaced.Created);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Replace_AnotherOwnersFiber_TransfersTheCount()
    {
        var manager = NewManager();
        await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout();

        var replaced = await manager.StartAsync("f", "parked", TestWorkflows.Parked(), Owned("bob", 1, IdConflictPolicy.Replace)).DefaultTimeout();

        Assert.True(replaced.Created);
        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        Assert.Equal(1, manager.CountOwnedFibers("bob"));
        Assert.Equal("bob", manager.GetStatus("f").Owner);
        manager.AssertSettled(1);
    }

    [Fact]
    public async Task Replace_ByOwnerAtLimit_RefusedBeforeTheOldFiberIsInterrupted()
    {
        var manager = NewManager();
        await manager.StartAsync("alices", "parked", TestWorkflows.Parked(), Owned("alice", 1)).DefaultTimeout();
        await manager.StartAsync("bobs", "parked", TestWorkflows.Parked(), Owned("bob", 1)).DefaultTimeout();

        await ThrowsCodeAsync(FiberErrorCode.OwnerFiberLimitReached, () => manager.StartAsync("alices", "parked", TestWorkflows.Parked(), Owned("bob", 1, IdConflictPolicy.Replace)));

        Assert.Null(manager.GetStatus("alices").EndedAt);
        Assert.Equal("alice", manager.GetStatus("alices").Owner);
        Assert.Equal(1, manager.CountOwnedFibers("alice"));
        Assert.Equal(1, manager.CountOwnedFibers("bob"));
        manager.AssertSettled(2);
    }

    /// <summary>Many parallel Starts by one owner: exactly the limit are created, the rest refused, and the count never exceeds it.</summary>
    [Fact]
    public async Task ParallelStarts_OneOwner_NeverExceedTheLimit()
    {
        const int Limit = 5;
        const int Starts = 64;
        var manager = NewManager(o => o.MaxConcurrentFibers = Starts);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var maxSeen = 0;
        var attempts = Enumerable.Range(0, Starts).Select(i => Task.Run(async () =>
        {
            await gate.Task;
            try
            {
                await manager.StartAsync($"f{i}", "parked", TestWorkflows.Parked(), Owned("alice", Limit));
                InterlockedMax(ref maxSeen, manager.CountOwnedFibers("alice"));
                return true;
            }
            catch (FiberSupervisorException e) when (e.Code == FiberErrorCode.OwnerFiberLimitReached)
            {
                InterlockedMax(ref maxSeen, manager.CountOwnedFibers("alice"));
                return false;
            }
        })).ToArray();

        gate.SetResult();
        var results = await Task.WhenAll(attempts).DefaultTimeout();

        Assert.Equal(Limit, results.Count(created => created));
        Assert.Equal(Limit, manager.CountOwnedFibers("alice"));
        Assert.True(maxSeen <= Limit, $"the owner held {maxSeen} fibers at one point");
        manager.AssertSettled(Limit);

        // Ending them in parallel releases each exactly once.
        var live = manager.List().Fibers.Select(f => f.FiberId).ToArray();
        await Task.WhenAll(live.Select(id => manager.InterruptAsync(id))).DefaultTimeout();
        Assert.Equal(0, manager.CountOwnedFibers("alice"));
        manager.AssertSettled(0);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
