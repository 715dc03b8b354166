using FiberManager.Core.Collections;
using FiberManager.Core.Fibers;
using System.Collections.Concurrent;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Stress;

/// <summary>How a stress body behaves once it runs.</summary>
public enum BodyKind
{
    /// <summary>Parks on NeverAsync until interrupted.</summary>
    Park,

    /// <summary>Yields once, then returns.</summary>
    Yield,

    /// <summary>Returns before its first await.</summary>
    Synchronous,

    /// <summary>Yields once, then throws.</summary>
    Throw,
}

/// <summary>One fiber of a stress run: how often its body started and how often its finally ran.</summary>
public sealed class LedgerEntry(BodyKind kind, int key)
{
    private int _started;
    private int _finalized;

    public BodyKind Kind { get; } = kind;

    public int Key { get; } = key;

    /// <summary>Forked elsewhere and added to the collection, rather than run in it.</summary>
    public bool AddedFromElsewhere { get; init; }

    public Fiber? Fiber { get; set; }

    public int Started => Volatile.Read(ref _started);

    public int Finalized => Volatile.Read(ref _finalized);

    public Func<FiberContext, Task> Body => async ctx =>
    {
        Interlocked.Increment(ref _started);
        try
        {
            switch (Kind)
            {
                case BodyKind.Park:
                    await ctx.NeverAsync();
                    break;
                case BodyKind.Yield:
                    await Task.Yield();
                    break;
                case BodyKind.Throw:
                    await Task.Yield();
                    throw new TestException("stress body failed");
            }
        }
        finally
        {
            Interlocked.Increment(ref _finalized);
        }
    };

    public static BodyKind RandomKind(Random random) => random.Next(100) switch
    {
        < 40 => BodyKind.Park,
        < 65 => BodyKind.Yield,
        < 80 => BodyKind.Synchronous,
        _ => BodyKind.Throw,
    };
}

/// <summary>Fibers of a stress run, in a slot per operation so workers can pick earlier ones at random.</summary>
public sealed class Ledger(int capacity)
{
    private readonly LedgerEntry?[] _slots = new LedgerEntry?[capacity];
    private readonly ConcurrentQueue<LedgerEntry> _all = new();

    public IReadOnlyCollection<LedgerEntry> All => _all;

    public void Record(int slot, LedgerEntry entry)
    {
        _all.Enqueue(entry);
        Volatile.Write(ref _slots[slot], entry);
    }

    /// <summary>A fiber recorded in a slot before <paramref name="before"/>, or null when that slot holds none (yet).</summary>
    public Fiber? PickEarlier(Random random, int before) =>
        before <= 0 ? null : Volatile.Read(ref _slots[random.Next(before)])?.Fiber;

    /// <summary>
    /// Every fiber has ended; each body that started ran its finally exactly once, and a body that
    /// never started (interrupted before it ran) had none to run and ended interrupted.
    /// </summary>
    public async Task AssertEveryFiberEndedOnceAsync(string run)
    {
        await Task.WhenAll(_all.Select(e => e.Fiber!.AwaitExitAsync().AsTask())).DefaultTimeout();
        foreach (var entry in _all)
        {
            Assert.True(entry.Started is 0 or 1, $"{run}: a body started {entry.Started} times");
            Assert.True(entry.Finalized == entry.Started, $"{run}: {entry.Kind} body started {entry.Started}, finally ran {entry.Finalized}");
            if (entry.Started == 0)
            {
                Assert.True(entry.Fiber!.TryGetExit(out var exit) && exit.IsInterrupted, $"{run}: a body that never ran ended {exit}");
            }
        }
    }
}

/// <summary>Records TaskScheduler.UnobservedTaskException while alive.</summary>
public sealed class UnobservedExceptionProbe : IDisposable
{
    private readonly ConcurrentQueue<Exception> _seen = new();

    public UnobservedExceptionProbe() => TaskScheduler.UnobservedTaskException += OnUnobserved;

    /// <summary>Collects garbage (so faulted, unobserved tasks are finalized) and asserts nothing was reported.</summary>
    public void AssertNoneAfterCollection()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.True(_seen.IsEmpty, $"unobserved task exceptions: {string.Join("; ", _seen.Select(e => e.GetBaseException().Message))}");
    }

    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => _seen.Enqueue(e.Exception);
}

public static class Workers
{
    /// <summary>
    /// Runs <paramref name="count"/> asynchronous workers on the thread pool, released together by a
    /// start gate. Workers should yield between operations: on the pool, a yield queues behind the
    /// fibers already queued, so operations and fiber bodies interleave instead of the workers
    /// racing through before any body runs.
    /// </summary>
    public static async Task RunAsync(int count, Func<int, Task> work)
    {
        var start = Gate.Create();
        var workers = Enumerable.Range(0, count).Select(worker => Task.Run(async () =>
        {
            await start.Task;
            await work(worker);
        })).ToArray();
        start.SetResult();
        await Task.WhenAll(workers);
    }
}
