using FiberManager.Core.Fibers;
using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace FiberManager.Core.Collections;

/// <summary>
/// The waiters of a fiber collection (<see cref="FiberCollectionCore{TKey}"/>):
/// the first failure recorded for join, the empty waiter and the join waiter. A mutable struct held
/// in a field of its owner (never copied), so it costs the owner no allocation; its owner guards it
/// with its own lock and passes in its member count.
/// </summary>
/// <remarks>
/// <para>The <c>...Locked</c> methods run under the owner's lock; <see cref="Wake"/> runs outside it.</para>
/// <para>Invariants (DEBUG-checked): the empty waiter exists only while members exist
/// (<see cref="AssertInvariantsLocked"/>, at the start of the owner's locked blocks); the failure,
/// once set, never changes (<see cref="MemberEndedLocked"/>); waiters are completed outside the lock
/// (<see cref="Wake"/>), except when an owner stores a fiber that has ended already: it leaves at once,
/// re-entering the lock, and only sources that run their continuations asynchronously are completed.</para>
/// </remarks>
[DebuggerDisplay("Failed = {_failure != null}, EmptyWaiter = {_emptyWaiter != null}, JoinWaiter = {_joinWaiter != null}")]
internal struct CollectionWaiters
{
    // Returned by MemberEndedLocked when only the join waiter is to be woken (a failure was recorded).
    private static readonly object s_failedOnly = new();

    // A completed placeholder so "the owner became empty" is signalled even with no empty-waiter.
    private static readonly TaskCompletionSource s_noWaiter = CreateCompleted();

    private Exception? _failure;
    private TaskCompletionSource? _emptyWaiter;
    private TaskCompletionSource? _joinWaiter;

    /// <summary>
    /// What a member's exit adds to join: its failure, or its interruption when it propagates
    /// interruption and was not interrupted by the owner (<paramref name="owner"/>); otherwise null.
    /// </summary>
    public static Exception? FailureOf(Exit exit, long fiberId, bool propagateInterruption, Interruptor owner) => exit.Kind switch
    {
        ExitKind.Failure => exit.Exception,
        ExitKind.Interrupted when propagateInterruption && exit.Interruptor != owner =>
            new FiberInterruptedException(fiberId, exit.Interruptor),
        _ => null,
    };

    /// <summary>Under the lock: a task that completes when the owner has no member.</summary>
    public Task AwaitEmptyLocked(int memberCount, CancellationToken cancellationToken)
    {
        if (memberCount == 0)
        {
            return Task.CompletedTask;
        }

        _emptyWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _emptyWaiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Under the lock, one step of join: throws the failure recorded; null when the owner has no
    /// member; otherwise a task completing at the next change (a failure, or the owner empty), after
    /// which the owner takes the next step.
    /// </summary>
    public Task? JoinStepLocked(int memberCount)
    {
        if (_failure is not null)
        {
            ExceptionDispatchInfo.Capture(_failure).Throw();
        }

        if (memberCount == 0)
        {
            return null;
        }

        _joinWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _joinWaiter.Task;
    }

    /// <summary>
    /// Under the lock, after a member ended or was removed: records <paramref name="failure"/> (the
    /// first one sticks) and, when <paramref name="becameEmpty"/>, takes the empty waiter.
    /// </summary>
    /// <returns>Null when nothing is to be woken; otherwise what to give <see cref="Wake"/> once outside the lock.</returns>
    public object? MemberEndedLocked(Exception? failure, bool becameEmpty)
    {
        var before = _failure;
        var failed = false;
        if (failure is not null && _failure is null)
        {
            _failure = failure;
            failed = true;
        }

        Debug.Assert(before is null || ReferenceEquals(_failure, before), "the failure, once set, never changes");
        if (becameEmpty)
        {
            var empty = _emptyWaiter ?? s_noWaiter;
            _emptyWaiter = null;
            return empty;
        }

        return failed ? s_failedOnly : null;
    }

    /// <summary>
    /// Outside the lock: completes the empty waiter <see cref="MemberEndedLocked"/> returned (if any),
    /// then takes the join waiter under <paramref name="sync"/> (the owner's lock) and completes it.
    /// </summary>
    public void Wake(object changed, Lock sync)
    {
        var empty = changed as TaskCompletionSource;
        AssertWakeable(empty, sync);
        empty?.TrySetResult();
        TaskCompletionSource? join;
        lock (sync)
        {
            join = _joinWaiter;
            _joinWaiter = null;
        }

        AssertWakeable(join, sync);
        join?.TrySetResult();
    }

    /// <summary>Under the lock: checks that the empty waiter exists only while members exist.</summary>
    [Conditional("DEBUG")]
    public readonly void AssertInvariantsLocked(int memberCount)
    {
        Debug.Assert(memberCount > 0 || _emptyWaiter is null, "an empty-waiter exists only while members exist");
    }

    // Completed outside the lock, or (a stored fiber that had ended already) with its continuations run asynchronously.
    [Conditional("DEBUG")]
    private static void AssertWakeable(TaskCompletionSource? source, Lock sync)
    {
        Debug.Assert(
            source is null || !sync.IsHeldByCurrentThread || source.Task.IsCompleted
                || (source.Task.CreationOptions & TaskCreationOptions.RunContinuationsAsynchronously) != 0,
            "waiters are completed outside the lock");
    }

    private static TaskCompletionSource CreateCompleted()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
