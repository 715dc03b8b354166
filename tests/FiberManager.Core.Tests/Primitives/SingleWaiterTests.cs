using FiberManager.Core.Primitives;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Primitives;

public sealed class SingleWaiterTests
{
    [Fact]
    public async Task TrySetResult_CompletesTheParkedWait_AndTheSourceCanBeParkedAgain()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var first));
        var wait = waiter.AsValueTask(first);
        Assert.False(wait.IsCompleted);
        Assert.True(waiter.IsParked);

        Assert.True(waiter.TrySetResult(first, 42));

        Assert.Equal(42, await wait.DefaultTimeout());
        Assert.False(waiter.IsParked);
        Assert.True(waiter.TryPark(out var second));
        Assert.NotEqual(first, second);
        Assert.True(waiter.TrySetResult(second, 7));
        Assert.Equal(7, await waiter.AsValueTask(second).DefaultTimeout());
    }

    [Fact]
    public async Task TryPark_WhileAWaitIsOutstanding_Fails_UntilItsResultIsTaken()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var version));
        Assert.False(waiter.TryPark(out _)); // parked

        Assert.True(waiter.TrySetResult(version, 1));
        Assert.False(waiter.TryPark(out _)); // completed, result not taken yet

        Assert.Equal(1, await waiter.AsValueTask(version).DefaultTimeout());
        Assert.True(waiter.TryPark(out _));
    }

    [Fact]
    public async Task ACompletionForAnEarlierPark_DoesNotCompleteALaterOne()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var first));
        Assert.True(waiter.TrySetResult(first, 1));
        Assert.Equal(1, await waiter.AsValueTask(first).DefaultTimeout());
        Assert.True(waiter.TryPark(out var second));

        Assert.False(waiter.TrySetResult(first, 99));
        Assert.False(waiter.TryBeginCompletion(first));

        Assert.True(waiter.IsParked);
        Assert.True(waiter.TrySetResult(second, 2));
        Assert.Equal(2, await waiter.AsValueTask(second).DefaultTimeout());
    }

    [Fact]
    public async Task ConcurrentCompletions_ExactlyOneWins_AndItsResultIsTheOneAwaited()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        for (var round = 0; round < 200; round++)
        {
            Assert.True(waiter.TryPark(out var version));
            var wait = waiter.AsValueTask(version);
            using var start = new Barrier(4);
            var winners = new int[4];
            var threads = Enumerable.Range(0, 4).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                winners[i] = i % 2 == 0
                    ? (waiter.TrySetResult(version, i) ? 1 : 0)
                    : (waiter.TrySetException(version, new TestException($"{i}")) ? 1 : 0);
            })).ToArray();
            foreach (var thread in threads)
            {
                thread.Start();
            }

            foreach (var thread in threads)
            {
                Assert.True(thread.Join(TestTimeouts.Default));
            }

            Assert.Equal(1, winners.Sum());
            var winner = Array.IndexOf(winners, 1);
            if (winner % 2 == 0)
            {
                Assert.Equal(winner, await wait.DefaultTimeout());
            }
            else
            {
                var error = await Assert.ThrowsAsync<TestException>(() => wait.DefaultTimeout());
                Assert.Equal($"{winner}", error.Message);
            }
        }
    }

    [Fact]
    public async Task CancellingTheRegisteredToken_FailsTheWaitWithThatToken_OffTheCancellingThread()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: false);
        using var cts = new CancellationTokenSource();
        Assert.True(waiter.TryPark(out var version));
        waiter.RegisterCancellation(cts.Token, version);
        var resume = ResumedOn(waiter, version);

        var cancellingThread = RunOnOwnThread(cts.Cancel);

        var (thread, error) = await resume.DefaultTimeout();
        Assert.NotEqual(cancellingThread, thread);
        Assert.Equal(cts.Token, Assert.IsAssignableFrom<OperationCanceledException>(error).CancellationToken);
        Assert.False(waiter.TrySetResult(version, 1));
    }

    [Fact]
    public async Task RegisteringAnAlreadyCancelledToken_CompletesTheWaitAtOnce()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var version));

        waiter.RegisterCancellation(new CancellationToken(canceled: true), version);

        Assert.False(waiter.IsParked);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.AsValueTask(version).DefaultTimeout());
        Assert.True(waiter.TryPark(out _));
    }

    [Fact]
    public async Task ACompletedWait_ReleasesItsRegistration()
    {
        var waiter = new CountingWaiter();
        using var cts = new CancellationTokenSource();
        Assert.True(waiter.TryPark(out var version));
        waiter.RegisterCancellation(cts.Token, version);
        Assert.True(waiter.TrySetResult(version, 1));
        Assert.Equal(1, await waiter.AsValueTask(version).DefaultTimeout());

        cts.Cancel();

        Assert.Equal(0, waiter.CancellationCallbacks);
    }

    [Fact]
    public async Task ACallbackForAnotherToken_DoesNotCancelTheCurrentPark()
    {
        var waiter = new CountingWaiter();
        using var earlier = new CancellationTokenSource();
        using var current = new CancellationTokenSource();
        var second = await CompleteOneParkThenParkAgainAsync(waiter, earlier.Token, current.Token);

        earlier.Cancel();
        waiter.DeliverLateCallback(earlier.Token); // as if the earlier park's callback had been running already

        Assert.True(waiter.IsParked);
        current.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.AsValueTask(second).DefaultTimeout());
    }

    [Fact]
    public async Task TheSameTokenOnTheNextPark_StillCancelsIt()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        using var cts = new CancellationTokenSource();
        var second = await CompleteOneParkThenParkAgainAsync(waiter, cts.Token, cts.Token);

        cts.Cancel();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.AsValueTask(second).DefaultTimeout());
        Assert.Equal(cts.Token, error.CancellationToken);
    }

    [Fact]
    public async Task InlineSource_RunsTheContinuationOnTheCompletingThread_UnlessTheCompletionAsksOtherwise()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: false);

        Assert.True(waiter.TryPark(out var inline));
        var inlineResume = ResumedOn(waiter, inline);
        var completer = RunOnOwnThread(() => Assert.True(waiter.TrySetResult(inline, 1)));
        Assert.Equal((completer, null), await inlineResume.DefaultTimeout());

        Assert.True(waiter.TryPark(out var forced));
        var forcedResume = ResumedOn(waiter, forced);
        completer = RunOnOwnThread(() => Assert.True(waiter.TrySetResult(forced, 2, forceAsynchronousContinuation: true)));
        Assert.NotEqual(completer, (await forcedResume.DefaultTimeout()).Thread);

        Assert.True(waiter.TryPark(out var again)); // the forced mode applied to that one completion only
        var againResume = ResumedOn(waiter, again);
        completer = RunOnOwnThread(() => Assert.True(waiter.TrySetResult(again, 3)));
        Assert.Equal((completer, null), await againResume.DefaultTimeout());
    }

    [Fact]
    public async Task AsynchronousSource_NeverRunsTheContinuationOnTheCompletingThread()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var version));
        var resume = ResumedOn(waiter, version);

        var completer = RunOnOwnThread(() => Assert.True(waiter.TrySetResult(version, 1)));

        Assert.NotEqual(completer, (await resume.DefaultTimeout()).Thread);
    }

    [Fact]
    public async Task GetResult_WithAnotherParksToken_Throws_AndLeavesTheWaitOutstanding()
    {
        var waiter = new SingleWaiter<int>(runContinuationsAsynchronously: true);
        Assert.True(waiter.TryPark(out var version));
        Assert.True(waiter.TrySetResult(version, 5));

        Assert.Throws<InvalidOperationException>(() => waiter.GetResult(unchecked((short)(version + 1))));

        Assert.False(waiter.TryPark(out _));
        Assert.Equal(5, await waiter.AsValueTask(version).DefaultTimeout());
    }

    /// <summary>Parks with <paramref name="first"/>, completes that park with a result, then parks again with <paramref name="second"/>.</summary>
    private static async Task<short> CompleteOneParkThenParkAgainAsync(SingleWaiter<int> waiter, CancellationToken first, CancellationToken second)
    {
        Assert.True(waiter.TryPark(out var firstPark));
        waiter.RegisterCancellation(first, firstPark);
        Assert.True(waiter.TrySetResult(firstPark, 1));
        Assert.Equal(1, await waiter.AsValueTask(firstPark).DefaultTimeout());
        Assert.True(waiter.TryPark(out var secondPark));
        waiter.RegisterCancellation(second, secondPark);
        return secondPark;
    }

    /// <summary>The thread the wait's continuation ran on, and what taking its result threw.</summary>
    private static Task<(int Thread, Exception? Error)> ResumedOn(SingleWaiter<int> waiter, short version)
    {
        var resumed = Gate.Create<(int, Exception?)>();
        var awaiter = waiter.AsValueTask(version).ConfigureAwait(false).GetAwaiter();
        awaiter.OnCompleted(() =>
        {
            Exception? error = null;
            try
            {
                awaiter.GetResult();
            }
            catch (Exception e)
            {
                error = e;
            }

            resumed.TrySetResult((Environment.CurrentManagedThreadId, error));
        });
        return resumed.Task;
    }

    // A dedicated thread (not a pool thread), so "ran on the completing thread" cannot happen by chance.
    private static int RunOnOwnThread(Action action)
    {
        var id = 0;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            id = Environment.CurrentManagedThreadId;
            try
            {
                action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TestTimeouts.Default));
        Assert.Null(failure);
        return id;
    }

    private sealed class CountingWaiter() : SingleWaiter<int>(runContinuationsAsynchronously: true)
    {
        private int _callbacks;

        public int CancellationCallbacks => Volatile.Read(ref _callbacks);

        public void DeliverLateCallback(CancellationToken token) => base.OnCancellationRequested(token);

        protected override void OnCancellationRequested(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _callbacks);
            base.OnCancellationRequested(cancellationToken);
        }
    }
}
