using System.Threading.Channels;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// The gated bounded queue behind a managed fiber's input: FIFO, capacity, pause gate, waiting
/// readers and writers, cancellation and close. Waiters change state synchronously when woken
/// (their continuations run later, on the pool), so completion is asserted right after the call
/// that causes it.
/// </summary>
public sealed class WorkflowInputTests
{
    [Fact]
    public void TryWrite_UpToCapacity_ThenRefuses_AndTryReadIsFifo()
    {
        var input = new WorkflowInput<int>(capacity: 3, paused: false);

        Assert.True(input.TryWrite(1));
        Assert.True(input.TryWrite(2));
        Assert.True(input.TryWrite(3));
        Assert.False(input.TryWrite(4));
        Assert.Equal(3, input.Count);

        var read = new List<int>();
        while (input.TryRead(out var item))
        {
            read.Add(item);
        }

        Assert.Equal([1, 2, 3], read);
        Assert.Equal(0, input.Count);
        Assert.Equal(3, input.HandedOut);
    }

    [Fact]
    public async Task WaitToReadAsync_Empty_ParksUntilAWrite_AndReportsIdleMeanwhile()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);

        var wait = input.WaitToReadAsync();
        Assert.False(wait.IsCompleted);
        Assert.True(input.IsReaderIdle);

        Assert.True(input.TryWrite(7));
        Assert.True(wait.IsCompleted);
        Assert.False(input.IsReaderIdle);
        Assert.True(await wait.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(7, item);
    }

    [Fact]
    public async Task Paused_HandsOutNothing_UntilResume_EvenToAReaderParkedBeforeThePause()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        var parked = input.WaitToReadAsync();
        Assert.True(input.Pause());
        Assert.False(input.Pause());

        Assert.True(input.TryWrite(1)); // accepted while paused (the manager decides whether to buffer)
        Assert.False(parked.IsCompleted);
        Assert.False(input.TryRead(out _));
        var second = input.WaitToReadAsync();
        Assert.False(second.IsCompleted);

        Assert.True(input.Resume());
        Assert.False(input.Resume());
        Assert.True(await parked.DefaultTimeout());
        Assert.True(await second.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(1, item);
        Assert.False(input.TryRead(out _));
    }

    [Fact]
    public async Task ResumeWithAnEmptyQueue_LeavesTheReaderParked()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: true);
        var wait = input.WaitToReadAsync();

        input.Resume();
        Assert.False(wait.IsCompleted);

        input.TryWrite(5);
        Assert.True(await wait.DefaultTimeout());
    }

    [Fact]
    public async Task WriteAsync_QueueFull_WritersWaitAndEnterInFifoOrderAsReadsMakeRoom()
    {
        var input = new WorkflowInput<int>(capacity: 2, paused: false);
        input.TryWrite(1);
        input.TryWrite(2);

        var third = input.WriteAsync(3, CancellationToken.None).AsTask();
        var fourth = input.WriteAsync(4, CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);

        Assert.True(input.TryRead(out var first));
        Assert.Equal(1, first);
        Assert.True(third.IsCompleted);
        Assert.False(fourth.IsCompleted);
        Assert.Equal(2, input.Count);

        Assert.True(input.TryRead(out var second));
        Assert.Equal(2, second);
        await Task.WhenAll(third, fourth).DefaultTimeout();

        Assert.True(input.TryRead(out var a));
        Assert.True(input.TryRead(out var b));
        Assert.Equal((3, 4), (a, b));
        Assert.Equal(4, input.HandedOut);
    }

    [Fact]
    public async Task WriteAsync_CancelledWhileWaiting_LeavesTheLine_AndItsItemIsNeverQueued()
    {
        var input = new WorkflowInput<int>(capacity: 1, paused: false);
        input.TryWrite(1);
        using var cancel = new CancellationTokenSource();
        var cancelled = input.WriteAsync(2, cancel.Token).AsTask();
        var next = input.WriteAsync(3, CancellationToken.None).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.DefaultTimeout());

        Assert.True(input.TryRead(out var first));
        Assert.Equal(1, first);
        await next.DefaultTimeout();
        Assert.True(input.TryRead(out var second));
        Assert.Equal(3, second);
        Assert.False(input.TryRead(out _));
    }

    [Fact]
    public async Task WriteAsync_AlreadyCancelledToken_IsCancelledAtOnce()
    {
        var input = new WorkflowInput<int>(capacity: 1, paused: false);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();

        var write = input.WriteAsync(1, cancel.Token);

        Assert.True(write.IsCanceled);
        Assert.Equal(0, input.Count);
    }

    [Fact]
    public async Task Close_CountsWhatWasQueued_FailsWaitingWriters_EndsReaders_AndRefusesEverythingAfter()
    {
        var input = new WorkflowInput<int>(capacity: 1, paused: false);
        input.TryWrite(1);
        var waitingWriter = input.WriteAsync(2, CancellationToken.None).AsTask();
        input.Pause();
        var reader = input.WaitToReadAsync();

        var unprocessed = input.Close();

        Assert.Equal(1, unprocessed); // the waiting writer's item was never accepted
        await Assert.ThrowsAsync<ChannelClosedException>(() => waitingWriter.DefaultTimeout());
        Assert.False(await reader.DefaultTimeout());
        Assert.False(input.TryWrite(3));
        await Assert.ThrowsAsync<ChannelClosedException>(() => input.WriteAsync(4, CancellationToken.None).AsTask().DefaultTimeout());
        Assert.False(await input.WaitToReadAsync().DefaultTimeout());
        Assert.False(input.TryRead(out _));
        Assert.Equal(0, input.Count);
        Assert.Equal(0, input.Close());
    }

    [Fact]
    public async Task WaitToReadAsync_Cancelled_Throws_AndTheNextWaitWorks()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        using var cancel = new CancellationTokenSource();
        var wait = input.WaitToReadAsync(cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.DefaultTimeout());
        Assert.False(input.IsReaderIdle);
        var next = input.WaitToReadAsync();
        Assert.False(next.IsCompleted);
        input.TryWrite(1);
        Assert.True(await next.DefaultTimeout());
    }

    [Fact]
    public async Task WaitToReadAsync_SameTokenAtALaterPark_ItsCancellationStillEndsTheWait()
    {
        // The read loop's waiter registers on its token once and keeps the registration across parks.
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        using var cancel = new CancellationTokenSource();
        for (var i = 0; i < 3; i++)
        {
            var wait = input.WaitToReadAsync(cancel.Token);
            Assert.False(wait.IsCompleted);
            input.TryWrite(i);
            Assert.True(await wait.DefaultTimeout());
            Assert.True(input.TryRead(out _));
        }

        var parked = input.WaitToReadAsync(cancel.Token);
        Assert.False(parked.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => parked.AsTask().DefaultTimeout());
        Assert.False(input.IsReaderIdle);
    }

    [Fact]
    public async Task WaitToReadAsync_TokenCancelledWhileNotParked_TheNextWaitWithItIsCancelled_AnotherTokensWaitIsNot()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var wait = input.WaitToReadAsync(first.Token);
        input.TryWrite(1);
        Assert.True(await wait.DefaultTimeout());
        Assert.True(input.TryRead(out _));

        // Cancelled between two parks: the kept registration's callback finds nothing parked.
        await first.CancelAsync();
        Assert.True(input.WaitToReadAsync(first.Token).IsCanceled);

        // A wait with another token is not ended by the first token's registration.
        var other = input.WaitToReadAsync(second.Token);
        Assert.False(other.IsCompleted);
        input.TryWrite(2);
        Assert.True(await other.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(2, item);

        var last = input.WaitToReadAsync(second.Token);
        await second.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => last.AsTask().DefaultTimeout());
    }

    [Fact]
    public async Task Close_WithAKeptRegistration_EndsTheReader_AndALaterCancellationChangesNothing()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        using var cancel = new CancellationTokenSource();
        var wait = input.WaitToReadAsync(cancel.Token);
        input.TryWrite(1);
        Assert.True(await wait.DefaultTimeout());
        Assert.True(input.TryRead(out _));
        input.TryWrite(2);
        Assert.True(input.TryRead(out _));
        var parked = input.WaitToReadAsync(cancel.Token);
        Assert.False(parked.IsCompleted);

        Assert.Equal(0, input.Close());
        Assert.False(await parked.DefaultTimeout());

        await cancel.CancelAsync();
        Assert.False(await input.WaitToReadAsync().DefaultTimeout());
    }

    [Fact]
    public async Task WaitToReadAsync_ManyTimes_ReusesItsWaiter_WithoutMixingUpResults()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        for (var i = 0; i < 100; i++)
        {
            var wait = input.WaitToReadAsync();
            Assert.False(wait.IsCompleted);
            input.TryWrite(i);
            Assert.True(await wait.DefaultTimeout());
            Assert.True(input.TryRead(out var item));
            Assert.Equal(i, item);
        }
    }

    [Fact]
    public async Task TwoReadersParked_OneWriteWakesBoth_OnlyOneGetsTheItem()
    {
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        var first = input.WaitToReadAsync();
        var second = input.WaitToReadAsync();

        input.TryWrite(9);

        Assert.True(await first.DefaultTimeout());
        Assert.True(await second.DefaultTimeout());
        Assert.True(input.TryRead(out var item));
        Assert.Equal(9, item);
        Assert.False(input.TryRead(out _));
    }

    [Fact]
    public async Task ConcurrentWritersAndOneReader_EveryItemArrivesOnce_InEachWritersOrder()
    {
        const int PerWriter = 5_000;
        var input = new WorkflowInput<int>(capacity: 4, paused: false);
        var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                await input.WriteAsync((w * PerWriter) + i, CancellationToken.None);
            }
        })).ToArray();

        var seen = new List<int>();
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var item in input.ReadAllAsync(timeout.Token))
        {
            seen.Add(item);
            if (seen.Count == 2 * PerWriter)
            {
                break;
            }
        }

        await Task.WhenAll(writers).DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, PerWriter), seen.Where(v => v < PerWriter));
        Assert.Equal(Enumerable.Range(PerWriter, PerWriter), seen.Where(v => v >= PerWriter));
        Assert.Equal(2 * PerWriter, input.HandedOut);
    }
}
