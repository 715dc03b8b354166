using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Stress;

/// <summary>
/// A managed fiber's input under races: the pause gate against a busy reader, and Submits that
/// wait for room against their cancellation and the input's close. The DEBUG build checks the
/// input's invariants at every lock.
/// </summary>
[Collection(StressCollection.Name)]
public sealed class WorkflowInputStressTests
{
    /// <summary>
    /// The controller pauses and resumes while a reader reads and a writer submits; the epoch is
    /// odd from just after Pause returned until just before Resume is called. A read that began
    /// and ended inside one odd epoch happened entirely while paused: it must never succeed.
    /// </summary>
    [Fact]
    public async Task Stress_PauseVsReader_APausedGateHandsOutNothing()
    {
        var input = new WorkflowInput<int>(capacity: 16, paused: false, submitIdCapacity: 0, turnLimit: 1_000_000);
        var epoch = 0;
        var stop = 0;
        var handedOutWhilePaused = 0;
        var read = 0;
        var go = Gate.Create();
        var writer = Task.Run(async () =>
        {
            await go.Task;
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                await input.SubmitAsync(i, null, default, bufferWhilePaused: true, FullQueueMode.Reject, CancellationToken.None);
            }
        });
        var reader = Task.Run(async () =>
        {
            await go.Task;
            while (Volatile.Read(ref stop) == 0)
            {
                var before = Volatile.Read(ref epoch);
                if (input.TryRead(out _))
                {
                    read++;
                    if (before % 2 == 1 && Volatile.Read(ref epoch) == before)
                    {
                        Interlocked.Increment(ref handedOutWhilePaused);
                    }
                }
            }
        });
        var controller = Task.Run(async () =>
        {
            await go.Task;
            for (var i = 0; i < 20_000; i++)
            {
                Assert.True(input.Pause());
                Interlocked.Increment(ref epoch); // odd: paused
                Thread.SpinWait(50);
                Interlocked.Increment(ref epoch); // even: about to resume
                Assert.True(input.Resume());
                Thread.SpinWait(50);
            }

            Volatile.Write(ref stop, 1);
        });

        go.SetResult();
        await Task.WhenAll(writer, reader, controller).DefaultTimeout();

        Assert.Equal(0, handedOutWhilePaused);
        Assert.True(read > 0);
        Assert.Equal(input.HandedOut + input.Close(), (long)input.Accepted);
    }

    /// <summary>
    /// Writers submit in Wait mode through a small queue, some with tokens cancelled at random,
    /// while a slow reader reads and the input closes at a random moment. Every Submit is accepted
    /// with a sequence, cancelled or refused as closed; the accepted sequences are exactly
    /// 1..accepted; the reader got a prefix of them in order; the close counted the rest. (Tokens
    /// cancelled just as a Submit starts to wait hit a .NET 10 channel race that enqueued a cancelled
    /// write: two inputs got one sequence number. See WorkflowInput's LockedCancellation.)
    /// </summary>
    [Fact]
    public async Task Stress_WaitingSubmitsVsCancellationVsClose_SequencesContiguous_EveryInputAccountedFor()
    {
        var random = new Random(8001);
        for (var round = 0; round < 1_000; round++)
        {
            var input = new WorkflowInput<int>(capacity: 1 + random.Next(4), paused: false, submitIdCapacity: 0, turnLimit: 1 + random.Next(8));
            var accepted = new System.Collections.Concurrent.ConcurrentBag<ulong>();
            var cancelled = 0;
            var closed = 0;
            var go = Gate.Create();
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                var mine = new Random(round * 10 + w);
                await go.Task;
                for (var i = 0; i < 100; i++)
                {
                    using var cts = new CancellationTokenSource();
                    if (mine.Next(4) == 0)
                    {
                        cts.CancelAfter(TimeSpan.FromTicks(mine.Next(1, 2_000)));
                    }

                    try
                    {
                        var write = await input.SubmitAsync(i, null, default, bufferWhilePaused: false, FullQueueMode.Wait, cts.Token);
                        if (write.Outcome == SubmitOutcome.Accepted)
                        {
                            accepted.Add(write.Sequence);
                        }
                        else
                        {
                            Assert.Equal(SubmitOutcome.Closed, write.Outcome);
                            Interlocked.Increment(ref closed);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        Interlocked.Increment(ref cancelled);
                    }
                }
            })).ToArray();
            var readSequences = new List<ulong>();
            var closeAfter = random.Next(50, 300);
            var reader = Task.Run(async () =>
            {
                await go.Task;
                while (readSequences.Count < closeAfter && await input.WaitToReadAsync())
                {
                    while (readSequences.Count < closeAfter && input.TryReadItem(out var item))
                    {
                        readSequences.Add(item.Sequence);
                        await Task.Yield();
                    }
                }

                return input.Close();
            });

            // Writers that end before the reader read closeAfter inputs (many were cancelled): close the
            // input for writes, so that the reader drains what is there and stops.
            var writersDone = Task.WhenAll(writers).ContinueWith(_ => input.CloseWrites(), TaskScheduler.Default);
            go.SetResult();
            var unprocessed = await reader.DefaultTimeout();
            await writersDone.DefaultTimeout();
            await Task.WhenAll(writers).DefaultTimeout();

            var sequences = accepted.OrderBy(s => s).ToList();
            Assert.Equal(400, sequences.Count + cancelled + closed);
            Assert.Equal(Enumerable.Range(1, sequences.Count).Select(s => (ulong)s), sequences);
            Assert.Equal(Enumerable.Range(1, readSequences.Count).Select(s => (ulong)s), readSequences);
            Assert.Equal(sequences.Count, readSequences.Count + unprocessed);
            Assert.Equal(readSequences.Count, input.HandedOut);
        }
    }
}
