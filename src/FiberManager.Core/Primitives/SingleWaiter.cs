using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace FiberManager.Core.Primitives;

/// <summary>
/// A reusable value-task source for one waiter at a time: the owner parks it, hands out a
/// <see cref="ValueTask{TResult}"/> for that park, and whoever completes it first (a result, an
/// exception, or the waiter's cancellation token) wins; every later attempt for the same park does
/// nothing. Once the awaiter has taken the result the source can be parked again, without allocating.
/// </summary>
/// <typeparam name="TResult">The result of a wait.</typeparam>
/// <remarks>
/// <para>
/// Built on <see cref="ManualResetValueTaskSourceCore{TResult}"/>, which does the awaiting part; this type
/// adds what every owner needs around it and would otherwise write again: one park at a time, completions
/// matched to the park they were meant for, and the cancellation registration. Like the operations of
/// <c>System.Threading.Channels</c> (which keep theirs internal) it is lock-free, so it serves owners
/// that guard their state with a lock (a hub subscription) and owners that have none (a fiber's delay).
/// </para>
/// <para>Rules:</para>
/// <list type="bullet">
/// <item><description><b>One park at a time.</b> <see cref="TryPark"/> succeeds only when no wait is
/// outstanding: the previous park was completed <em>and</em> its result taken (<c>GetResult</c>). A
/// <see cref="ValueTask{TResult}"/> from this source must be awaited once and only once.</description></item>
/// <item><description><b>Versions.</b> Each park has a version (the token of its value task). Completions
/// name the version they are for, so a completion meant for an earlier park never completes a later one.
/// <see cref="TryBeginCompletion"/> claims the park with one compare-exchange; exactly one caller wins.</description></item>
/// <item><description><b>Cancellation.</b> <see cref="RegisterCancellation"/> registers on the waiter's token
/// after parking, outside any lock of the owner (a token cancelled already runs the callback inline), and
/// before the park's value task is handed out (so no later park can exist while it runs). The
/// callback completes the park only while it is parked with that very token, so a callback left over from an
/// earlier park with another token does nothing. Whoever completes the park unregisters it (without waiting
/// for a callback that is running); if the park completes while the registration is being made, the
/// registering thread unregisters it itself.</description></item>
/// <item><description><b>Continuations.</b> A completion runs the awaiter's continuation inline unless the
/// source was created with <c>runContinuationsAsynchronously</c> or the completion asks for it; a
/// cancellation always runs it asynchronously (never inside someone's <c>Cancel()</c>).</description></item>
/// </list>
/// <para>
/// Invariants: the registration flag is set only while parked (the phases and the flag are one word,
/// changed by compare-exchange); an idle source holds no registration (DEBUG-checked when parking); only
/// the claimant completes the core (DEBUG-checked).
/// </para>
/// <para>
/// Owners either hold one in a field (allocated once, reused for every wait) or derive from it when each
/// wait is its own object anyway (a delay), so that the wait costs one allocation.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// short version;
/// lock (_lock)
/// {
///     if (HasData) return new ValueTask&lt;bool&gt;(true);
///     if (!_waiter.TryPark(out version)) throw new InvalidOperationException("One reader at a time.");
/// }
///
/// _waiter.RegisterCancellation(cancellationToken, version);
/// return _waiter.AsValueTask(version);
/// // elsewhere, once data arrived (outside the lock): _waiter.TrySetResult(version, true);
/// </code>
/// </example>
[DebuggerDisplay("{DebuggerPhase,nq}, Version = {Version}")]
internal class SingleWaiter<TResult> : IValueTaskSource<TResult>
{
    // _state: bits 0-1 the phase, bit 2 RegisteredBit, bits 16-31 the version of the current (or last) park.
    private const int PhaseMask = 0b11;
    private const int Idle = 0;      // no wait outstanding: may be parked
    private const int Parked = 1;    // a wait is outstanding and not completed
    private const int Completed = 2; // completed (or being completed by the winner); the result not yet taken
    private const int RegisteredBit = 0b100; // while Parked: _registration holds the park's registration

    private static readonly Action<object?, CancellationToken> s_cancellationRequested =
        static (state, token) => ((SingleWaiter<TResult>)state!).OnCancellationRequested(token);

    private readonly bool _runContinuationsAsynchronously;
    private ManualResetValueTaskSourceCore<TResult> _core;
    private int _state;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;

    /// <summary>Creates an idle source.</summary>
    /// <param name="runContinuationsAsynchronously">
    /// Whether a completion queues the awaiter's continuation to the thread pool rather than running it inline
    /// on the completing thread.
    /// </param>
    public SingleWaiter(bool runContinuationsAsynchronously)
    {
        _runContinuationsAsynchronously = runContinuationsAsynchronously;
        _core.RunContinuationsAsynchronously = runContinuationsAsynchronously;
    }

    /// <summary>Whether a wait is outstanding and not yet completed.</summary>
    public bool IsParked => (Volatile.Read(ref _state) & PhaseMask) == Parked;

    /// <summary>The version of the current (or last) park.</summary>
    public short Version => VersionOf(Volatile.Read(ref _state));

    private string DebuggerPhase => (Volatile.Read(ref _state) & PhaseMask) switch
    {
        Idle => "Idle",
        Parked => (Volatile.Read(ref _state) & RegisteredBit) != 0 ? "Parked (cancellable)" : "Parked",
        _ => "Completed",
    };

    /// <summary>Parks the source for a new wait, unless a wait is outstanding.</summary>
    /// <param name="version">The new park's version: the token of its value task, and what completions name.</param>
    /// <returns><see langword="false"/> when a wait is outstanding (not completed, or its result not yet taken).</returns>
    public bool TryPark(out short version)
    {
        int state = Volatile.Read(ref _state);
        if ((state & PhaseMask) != Idle)
        {
            version = 0;
            return false;
        }

        AssertIdle();

        // Cleared before the park is published: a cancellation callback left over from an earlier park then
        // finds another token and does nothing (the compare-exchange below is a full fence).
        _token = default;
        version = unchecked((short)(VersionOf(state) + 1)); // what _core.Reset() moves the version to
        if (Interlocked.CompareExchange(ref _state, Pack(version, Parked), state) != state)
        {
            version = 0;
            return false; // another thread parked it (a misuse the caller reports)
        }

        // Nobody can complete the new park before this: completions name its version, which only this caller
        // knows yet, and cancellation is registered after this method returns.
        _core.Reset();
        _core.RunContinuationsAsynchronously = _runContinuationsAsynchronously;
        Debug.Assert(_core.Version == version, "The park's version is the core's.");
        return true;
    }

    /// <summary>The value task of the park <paramref name="version"/>.</summary>
    /// <param name="version">A version <see cref="TryPark"/> returned.</param>
    /// <returns>A value task to await once.</returns>
    public ValueTask<TResult> AsValueTask(short version) => new(this, version);

    /// <summary>
    /// Makes <paramref name="cancellationToken"/> complete the park <paramref name="version"/> (see
    /// <see cref="OnCancellationRequested"/>). Called at most once per park, by the thread that parked it,
    /// outside any lock the owner's completions take, and before the park's value task is handed out (a
    /// source used for a single wait may call it later). Does nothing for a token that cannot be cancelled.
    /// </summary>
    /// <param name="cancellationToken">The waiter's token.</param>
    /// <param name="version">The park's version.</param>
    public void RegisterCancellation(CancellationToken cancellationToken, short version)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return;
        }

        Debug.Assert((Volatile.Read(ref _state) & RegisteredBit) == 0, "One registration per park.");

        // Stored before registering: a token cancelled already runs the callback inline, which must find it.
        _token = cancellationToken;
        _registration = cancellationToken.UnsafeRegister(s_cancellationRequested, this);
        int parked = Pack(version, Parked);
        if (Interlocked.CompareExchange(ref _state, parked | RegisteredBit, parked) != parked)
        {
            // Completed meanwhile (perhaps by this registration's own callback), without seeing the
            // registration: nobody else will unregister it.
            CancellationTokenRegistration registration = _registration;
            _registration = default;
            registration.Unregister();
        }
    }

    /// <summary>
    /// Claims the park <paramref name="version"/> for completion: exactly one caller gets
    /// <see langword="true"/>, and must then call <see cref="SetResult"/> or <see cref="SetException"/>.
    /// The park's cancellation registration is released here.
    /// </summary>
    /// <param name="version">The park's version.</param>
    /// <returns><see langword="false"/> when that park is not outstanding (completed already, or never made).</returns>
    public bool TryBeginCompletion(short version)
    {
        int parked = Pack(version, Parked);
        int state = Volatile.Read(ref _state);
        while ((state & ~RegisteredBit) == parked)
        {
            int seen = Interlocked.CompareExchange(ref _state, Pack(version, Completed), state);
            if (seen == state)
            {
                if ((state & RegisteredBit) != 0)
                {
                    // Written before the bit was published. Unregister never waits: a callback running now
                    // finds the park completed and does nothing.
                    CancellationTokenRegistration registration = _registration;
                    _registration = default;
                    registration.Unregister();
                }

                return true;
            }

            state = seen; // only the registration bit can have changed while parked
        }

        return false;
    }

    /// <summary>Completes the park claimed by <see cref="TryBeginCompletion"/> with a result.</summary>
    /// <param name="result">The wait's result.</param>
    /// <param name="forceAsynchronousContinuation">Queue the awaiter's continuation even if the source runs them inline.</param>
    public void SetResult(TResult result, bool forceAsynchronousContinuation = false)
    {
        AssertClaimed();
        if (forceAsynchronousContinuation)
        {
            _core.RunContinuationsAsynchronously = true;
        }

        _core.SetResult(result);
    }

    /// <summary>Completes the park claimed by <see cref="TryBeginCompletion"/> with an exception.</summary>
    /// <param name="error">What awaiting the value task throws.</param>
    /// <param name="forceAsynchronousContinuation">Queue the awaiter's continuation even if the source runs them inline.</param>
    public void SetException(Exception error, bool forceAsynchronousContinuation = false)
    {
        AssertClaimed();
        if (forceAsynchronousContinuation)
        {
            _core.RunContinuationsAsynchronously = true;
        }

        _core.SetException(error);
    }

    /// <summary>Completes the park <paramref name="version"/> with a result, if it is still outstanding.</summary>
    /// <param name="version">The park's version.</param>
    /// <param name="result">The wait's result.</param>
    /// <param name="forceAsynchronousContinuation">Queue the awaiter's continuation even if the source runs them inline.</param>
    /// <returns><see langword="false"/> when another completion came first (or the park is gone).</returns>
    public bool TrySetResult(short version, TResult result, bool forceAsynchronousContinuation = false)
    {
        if (!TryBeginCompletion(version))
        {
            return false;
        }

        SetResult(result, forceAsynchronousContinuation);
        return true;
    }

    /// <summary>Completes the park <paramref name="version"/> with an exception, if it is still outstanding.</summary>
    /// <param name="version">The park's version.</param>
    /// <param name="error">What awaiting the value task throws.</param>
    /// <param name="forceAsynchronousContinuation">Queue the awaiter's continuation even if the source runs them inline.</param>
    /// <returns><see langword="false"/> when another completion came first (or the park is gone).</returns>
    public bool TrySetException(short version, Exception error, bool forceAsynchronousContinuation = false)
    {
        if (!TryBeginCompletion(version))
        {
            return false;
        }

        SetException(error, forceAsynchronousContinuation);
        return true;
    }

    /// <inheritdoc/>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <inheritdoc/>
    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Takes the result of the park <paramref name="token"/>; after this the source may be parked again.</summary>
    /// <param name="token">The park's version.</param>
    /// <returns>The result; throws the exception the park was completed with.</returns>
    public TResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            // Only for the park that completed (a wrong token throws above and changes nothing).
            Interlocked.CompareExchange(ref _state, Pack(token, Idle), Pack(token, Completed));
        }
    }

    /// <summary>
    /// Called when the token given to <see cref="RegisterCancellation"/> is cancelled: completes the park with an
    /// <see cref="OperationCanceledException"/> for that token (its continuation asynchronously), if the park is
    /// still outstanding and was registered with that token. A derived waiter may complete it differently.
    /// </summary>
    /// <param name="cancellationToken">The cancelled token.</param>
    protected virtual void OnCancellationRequested(CancellationToken cancellationToken)
    {
        int state = Volatile.Read(ref _state);
        // _token is written before the park's state is published, so a token read after that state is this park's.
        if ((state & PhaseMask) == Parked && _token == cancellationToken)
        {
            TrySetException(VersionOf(state), new OperationCanceledException(cancellationToken), forceAsynchronousContinuation: true);
        }
    }

    private static int Pack(short version, int phase) => (ushort)version << 16 | phase;

    private static short VersionOf(int state) => unchecked((short)(ushort)(state >>> 16));

    [Conditional("DEBUG")]
    private void AssertIdle() =>
        Debug.Assert(_registration == default, "An idle source holds no registration.");

    [Conditional("DEBUG")]
    private void AssertClaimed() =>
        Debug.Assert((Volatile.Read(ref _state) & PhaseMask) == Completed, "Only the park's claimant completes it.");
}
