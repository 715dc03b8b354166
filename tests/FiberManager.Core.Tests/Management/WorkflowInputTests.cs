using System.Diagnostics;
using System.Threading.Channels;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// A managed fiber's input: a bounded channel behind a pause gate, with per-fiber sequence
/// numbers, submit-id de-duplication, Submits that wait for room in arrival order, and the count
/// of what was never handed out. Waiters change state synchronously when woken (their
/// continuations run later, on the pool), so completion is asserted right after the call that
/// causes it.
/// </summary>
public sealed class WorkflowInputTests
{
    private static WorkflowInput<int> NewInput(int capacity = 4, bool paused = false, int submitIdMemory = 16, int turnLimit = 1_000, IReadPacing? pacing = null) =>
        new(capacity, paused, submitIdMemory, turnLimit, pacing);

    private static ValueTask<InputWrite> Submit(
        WorkflowInput<int> input,
        int value,
        FullQueueMode mode = FullQueueMode.Reject,
        string? submitId = null,
        bool bufferWhilePaused = false,
        CancellationToken cancellationToken = default) =>
        input.SubmitAsync(value, submitId, default, bufferWhilePaused, mode, cancellationToken);

    /// <summary>
    /// Accepted with <paramref name="sequence"/>. The depth is not compared: a Submit woken by a read
    /// may still count that read's input, which is on its way out (the depth never undercounts).
    /// </summary>
    private static void AssertAccepted(ulong sequence, InputWrite write) =>
        Assert.Equal((SubmitOutcome.Accepted, sequence), (write.Outcome, write.Sequence));

    private static List<InputItem<int>> Drain(WorkflowInput<int> input)
    {
        var items = new List<InputItem<int>>();
        while (input.TryReadItem(out var item))
        {
            items.Add(item);
        }

        return items;
    }

    [Fact]
    public async Task Submit_UpToCapacity_ThenFullIsRefused_AndReadsAreFifoWithContiguousSequences()
    {
        var input = NewInput(capacity: 3);

        Assert.Equal(InputWrite.Accepted(1, 1), await Submit(input, 10));
        Assert.Equal(InputWrite.Accepted(2, 2), await Submit(input, 20));
        Assert.Equal(InputWrite.Accepted(3, 3), await Submit(input, 30));
        Assert.Equal(InputWrite.Full(3), await Submit(input, 40));

        // The refused input took no sequence number: the next accepted one is 4.
        Assert.True(input.TryRead(out var first));
        Assert.Equal(10, first);
        Assert.Equal(InputWrite.Accepted(4, 3), await Submit(input, 50));
        Assert.Equal([(2UL, 20), (3UL, 30), (4UL, 50)], Drain(input).Select(i => (i.Sequence, i.Value)));
        Assert.Equal(0, input.Count);
        Assert.Equal(4, input.HandedOut);
        Assert.Equal(4UL, input.Accepted);
    }

    [Fact]
    public async Task Submit_CarriesTheSubmitIdAndTheTraceContextToTheReader()
    {
        var input = NewInput();
        var context = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

        await input.SubmitAsync(5, "msg-1", context, bufferWhilePaused: false, FullQueueMode.Reject, CancellationToken.None);
        await input.SubmitAsync(6, null, default, bufferWhilePaused: false, FullQueueMode.Reject, CancellationToken.None);

        Assert.Equal([new InputItem<int>(5, 1, "msg-1", context), new InputItem<int>(6, 2, null, default)], Drain(input));
    }

    [Fact]
    public async Task Submit_DuplicateSubmitId_AnswersTheFirstSequenceAndQueuesNothing()
    {
        var input = NewInput();
        Assert.Equal(InputWrite.Accepted(1, 1), await Submit(input, 1, submitId: "a"));
        Assert.Equal(InputWrite.Accepted(2, 2), await Submit(input, 2, submitId: "b"));

        Assert.Equal(InputWrite.Duplicate(1, 2), await Submit(input, 99, submitId: "a"));
        Assert.Equal([1, 2], Drain(input).Select(i => i.Value));
    }

    [Fact]
    public async Task Submit_Paused_RefusedUnlessBufferingWhilePaused()
    {
        var input = NewInput(paused: true);

        Assert.Equal(InputWrite.Paused, await Submit(input, 1));
        Assert.Equal(InputWrite.Accepted(1, 1), await Submit(input, 2, bufferWhilePaused: true));
        Assert.Empty(Drain(input));
        Assert.True(input.Resume());
        Assert.Equal([2], Drain(input).Select(i => i.Value));
    }

    [Fact]
    public async Task WaitToReadAsync_Empty_ParksUntilASubmit_AndReportsIdleMeanwhile()
    {
        var input = NewInput();

        var wait = input.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        Assert.True(input.IsReaderIdle);

        await Submit(input, 7);
        Assert.True(wait.IsCompleted);
        Assert.False(input.IsReaderIdle);
        Assert.True(await wait.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(7, item);
    }

    [Fact]
    public async Task Paused_HandsOutNothing_UntilResume_EvenToAReaderParkedBeforeThePause()
    {
        var input = NewInput();
        var parked = input.WaitToReadAsync();
        Assert.True(input.Pause());
        Assert.False(input.Pause());

        // The channel wakes the reader parked before the pause; the gate still refuses it.
        await Submit(input, 1, bufferWhilePaused: true);
        Assert.True(await parked.DefaultTimeout());
        Assert.False(input.TryRead(out _));
        var gated = input.WaitToReadAsync();
        Assert.False(gated.IsCompleted);
        Assert.Equal(1, input.Count);

        Assert.True(input.Resume());
        Assert.False(input.Resume());
        Assert.True(await gated.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(1, item);
    }

    [Fact]
    public async Task ResumeWithAnEmptyQueue_TheReaderParksOnTheChannelAgain()
    {
        var input = NewInput(paused: true);
        var gated = input.WaitToReadAsync();

        Assert.True(input.Resume());
        Assert.True(await gated.DefaultTimeout());
        Assert.False(input.TryRead(out _));
        var parked = input.WaitToReadAsync();
        Assert.False(parked.IsCompleted);

        await Submit(input, 3);
        Assert.True(await parked.DefaultTimeout());
    }

    [Fact]
    public async Task Submit_QueueFullWait_WaitsInArrivalOrder_AndEntersAsReadsMakeRoom()
    {
        var input = NewInput(capacity: 1);
        await Submit(input, 1);
        var second = Submit(input, 2, FullQueueMode.Wait);
        var third = Submit(input, 3, FullQueueMode.Wait);
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);

        // A Reject arriving behind waiting Submits finds the queue full, as they did.
        Assert.Equal(SubmitOutcome.Full, (await Submit(input, 4)).Outcome);

        Assert.True(input.TryRead(out var one));
        Assert.Equal(1, one);
        AssertAccepted(2, await second.DefaultTimeout());
        Assert.False(third.IsCompleted);

        await TestTimeouts.UntilAsync(() => input.TryRead(out _), "the second input can be read");
        AssertAccepted(3, await third.DefaultTimeout());
        Assert.Equal([(3UL, 3)], Drain(input).Select(i => (i.Sequence, i.Value)));
    }

    [Fact]
    public async Task Submit_WaitingCancelled_LeavesTheLine_ItsInputIsNeverQueued_AndTakesNoSequence()
    {
        var input = NewInput(capacity: 1);
        await Submit(input, 1);
        using var cts = new CancellationTokenSource();
        var cancelled = Submit(input, 2, FullQueueMode.Wait, cancellationToken: cts.Token);
        var waiting = Submit(input, 3, FullQueueMode.Wait);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.DefaultTimeout());

        Assert.True(input.TryRead(out _));
        AssertAccepted(2, await waiting.DefaultTimeout());
        Assert.Equal([(2UL, 3)], Drain(input).Select(i => (i.Sequence, i.Value)));
        Assert.Equal(2UL, input.Accepted);
    }

    [Fact]
    public async Task Submit_CancelledWhileWaitingForItsTurn_LeavesTheLine_TheOneAheadStillEnters()
    {
        var input = NewInput(capacity: 1);
        await Submit(input, 1);
        var ahead = Submit(input, 2, FullQueueMode.Wait);
        using var cts = new CancellationTokenSource();
        var behind = Submit(input, 3, FullQueueMode.Wait, cancellationToken: cts.Token);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => behind.DefaultTimeout());
        Assert.False(ahead.IsCompleted);

        Assert.True(input.TryRead(out _));
        AssertAccepted(2, await ahead.DefaultTimeout());
        Assert.True(input.TryRead(out _));

        // Nobody waits any more: a Submit finds room at once again.
        Assert.Equal(InputWrite.Accepted(3, 1), await Submit(input, 4));
    }

    [Fact]
    public async Task Submit_WaitingWhenTheSameSubmitIdIsAcceptedMeanwhile_AnswersDuplicate()
    {
        var input = NewInput(capacity: 1);
        await Submit(input, 1);
        var waiting = Submit(input, 2, FullQueueMode.Wait, submitId: "x");
        Assert.True(input.TryRead(out _));
        AssertAccepted(2, await waiting.DefaultTimeout());

        // The retry finds the id accepted: it is not queued a second time.
        Assert.Equal(InputWrite.Duplicate(2, 1), await Submit(input, 2, FullQueueMode.Wait, submitId: "x").DefaultTimeout());
        Assert.Equal([2], Drain(input).Select(i => i.Value));
    }

    [Fact]
    public async Task Close_CountsWhatWasQueued_FailsWaitingSubmits_EndsReaders_AndRefusesEverythingAfter()
    {
        var input = NewInput(capacity: 2);
        await Submit(input, 1);
        await Submit(input, 2);
        var waitingSubmit = Submit(input, 3, FullQueueMode.Wait);
        var queuedBehind = Submit(input, 4, FullQueueMode.Wait);

        Assert.Equal(2, input.Close());

        Assert.Equal(SubmitOutcome.Closed, (await waitingSubmit.DefaultTimeout()).Outcome);
        Assert.Equal(SubmitOutcome.Closed, (await queuedBehind.DefaultTimeout()).Outcome);
        Assert.False(await input.WaitToReadAsync().DefaultTimeout());
        Assert.False(input.TryRead(out _));
        Assert.Equal(InputWrite.Closed, await Submit(input, 5));
        Assert.Equal(0, input.Count);
        Assert.Equal(0, input.HandedOut);
        Assert.Equal(0, input.Close());
    }

    [Fact]
    public async Task Close_WhilePaused_EndsAReaderWaitingOnTheGate()
    {
        var input = NewInput(paused: true);
        await Submit(input, 1, bufferWhilePaused: true);
        var gated = input.WaitToReadAsync();
        Assert.False(gated.IsCompleted);

        Assert.Equal(1, input.Close());

        Assert.False(await gated.DefaultTimeout());
    }

    [Fact]
    public async Task CloseWrites_RefusesSubmits_TheReaderDrainsWhatIsQueued_ThenIsToldNothingMoreComes()
    {
        var input = NewInput();
        await Submit(input, 1);
        var waitingWithItsOwnToken = NewInput();
        using var fiberToken = new CancellationTokenSource();
        waitingWithItsOwnToken.BindFiberToken(fiberToken.Token);
        var parked = waitingWithItsOwnToken.WaitToReadAsync(fiberToken.Token);

        input.CloseWrites();
        waitingWithItsOwnToken.CloseWrites();

        Assert.Equal(InputWrite.Closed, await Submit(input, 2));
        Assert.True(await input.WaitToReadAsync().DefaultTimeout());
        Assert.Equal([1], Drain(input).Select(i => i.Value));
        Assert.False(await input.WaitToReadAsync().DefaultTimeout());

        // Waiting with the fiber's own token registered nothing on it: closing is what ends the wait.
        Assert.False(await parked.DefaultTimeout());
        Assert.Equal(0, input.Close());
    }

    [Fact]
    public async Task CloseWrites_WhilePaused_EndsAReaderWaitingOnTheGate_AndWhatIsQueuedStaysUnprocessed()
    {
        var input = NewInput(paused: true);
        await Submit(input, 1, bufferWhilePaused: true);
        var gated = input.WaitToReadAsync();

        input.CloseWrites();

        Assert.False(await gated.DefaultTimeout());
        Assert.False(await input.WaitToReadAsync().DefaultTimeout());
        Assert.Equal(1, input.Close());
    }

    [Fact]
    public async Task WaitToReadAsync_AnotherTokenCancelled_Throws_AndTheNextWaitWorks()
    {
        var input = NewInput();
        using var cts = new CancellationTokenSource();
        var wait = input.WaitToReadAsync(cts.Token);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.DefaultTimeout());

        var next = input.WaitToReadAsync();
        await Submit(input, 1);
        Assert.True(await next.DefaultTimeout());
        Assert.False(input.IsReaderIdle);
    }

    [Fact]
    public async Task WaitToReadAsync_PausedWithAnotherToken_CancellationEndsTheWait()
    {
        var input = NewInput(paused: true);
        using var cts = new CancellationTokenSource();
        var gated = input.WaitToReadAsync(cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gated.DefaultTimeout());
    }

    [Fact]
    public async Task ReadAsync_FiberTokenCancelledAndInputClosed_ThrowsOperationCanceled()
    {
        var input = NewInput();
        using var fiberToken = new CancellationTokenSource();
        input.BindFiberToken(fiberToken.Token);
        var read = input.ReadAsync(fiberToken.Token);

        // An interrupt's order: the token, then the input.
        await fiberToken.CancelAsync();
        Assert.False(read.IsCompleted);
        input.CloseWrites();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.DefaultTimeout());
    }

    [Fact]
    public async Task TryRead_AfterTheTurnLimitInARow_WithASubscriberBehind_AnswersFalseOnce_AndTheNextWaitYieldsThenContinues()
    {
        var pacing = new Pacing { ShouldYield = true };
        var input = NewInput(capacity: 8, turnLimit: 3, pacing: pacing);
        for (var i = 1; i <= 5; i++)
        {
            await Submit(input, i);
        }

        Assert.Equal([1, 2, 3], Drain(input).Select(i => i.Value));
        Assert.Equal(2, input.Count);

        // The yield: the wait completes asynchronously, with true, and a new turn begins.
        var wait = input.WaitToReadAsync();
        Assert.True(await wait.DefaultTimeout());
        Assert.Equal([4, 5], Drain(input).Select(i => i.Value));
    }

    [Fact]
    public async Task TryRead_SubscribersKeepUp_NeverYields_AndOneFallingBehindLaterYieldsAtOnce()
    {
        var pacing = new Pacing { ShouldYield = false };
        var input = NewInput(capacity: 8, turnLimit: 3, pacing: pacing);
        for (var i = 1; i <= 6; i++)
        {
            await Submit(input, i);
        }

        for (var i = 1; i <= 4; i++)
        {
            Assert.True(input.TryRead(out var value));
            Assert.Equal(i, value);
        }

        pacing.ShouldYield = true;
        Assert.False(input.TryRead(out _));
        Assert.True(await input.WaitToReadAsync().DefaultTimeout());
        Assert.Equal([5, 6], Drain(input).Select(i => i.Value));
    }

    private sealed class Pacing : IReadPacing
    {
        public bool ShouldYield { get; set; }
    }

    [Fact]
    public async Task TwoReadersParked_OneSubmitWakesBoth_OnlyOneGetsTheInput()
    {
        var input = NewInput();
        var first = input.WaitToReadAsync();
        var second = input.WaitToReadAsync();

        await Submit(input, 1);

        Assert.True(await first.DefaultTimeout());
        Assert.True(await second.DefaultTimeout());
        Assert.True(input.TryRead(out _));
        Assert.False(input.TryRead(out _));
    }

    [Fact]
    public async Task ConcurrentSubmitsAndOneReader_EveryInputArrivesOnce_InEachWritersOrder_WithContiguousSequences()
    {
        const int writers = 4;
        const int perWriter = 500;
        var input = NewInput(capacity: 8);
        var reader = Task.Run(async () =>
        {
            var items = new List<InputItem<int>>();
            while (items.Count < writers * perWriter && await input.WaitToReadAsync().DefaultTimeout())
            {
                while (input.TryReadItem(out var item))
                {
                    items.Add(item);
                }
            }

            return items;
        });
        var submitters = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                Assert.Equal(SubmitOutcome.Accepted, (await Submit(input, (w * perWriter) + i, FullQueueMode.Wait)).Outcome);
            }
        })).ToArray();

        await Task.WhenAll(submitters).DefaultTimeout();
        var read = await reader.DefaultTimeout();

        Assert.Equal(Enumerable.Range(1, writers * perWriter).Select(i => (ulong)i), read.Select(i => i.Sequence));
        for (var w = 0; w < writers; w++)
        {
            var mine = read.Select(i => i.Value).Where(v => v / perWriter == w).ToList();
            Assert.Equal(Enumerable.Range(w * perWriter, perWriter), mine);
        }
    }

    [Fact]
    public async Task ReadAllAsync_PlainValues_UntilTheInputCloses()
    {
        var input = NewInput();
        await Submit(input, 1);
        await Submit(input, 2);
        input.CloseWrites();

        var values = new List<int>();
        await foreach (var value in input.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            values.Add(value);
        }

        Assert.Equal([1, 2], values);
        await Assert.ThrowsAsync<ChannelClosedException>(() => input.ReadAsync().DefaultTimeout());
    }
}
