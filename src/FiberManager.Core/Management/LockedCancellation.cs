namespace FiberManager.Core.Management;

/// <summary>
/// The token handed to a channel operation in place of a caller's: cancelled when the caller's
/// is, but only under <c>syncRoot</c>, which is held while the operation is started. So the
/// channel never sees its token cancelled while it registers on it: on .NET 10.0.12 a
/// cancellation that runs during that registration completes the operation without reserving
/// it, and the channel may complete it again later (dotnet/runtime#132094, fixed by
/// dotnet/runtime#132230): a cancelled WriteAsync whose input was enqueued all the same (its
/// sequence number then went to the next input as well), a wait completed twice.
/// </summary>
internal sealed class LockedCancellation : IDisposable
{
    private static readonly Action<object?> s_cancel = static state => ((LockedCancellation)state!).Cancel();

    private readonly CancellationTokenSource _source = new();
    private readonly Lock _syncRoot;
    private CancellationTokenRegistration _registration;

    private LockedCancellation(Lock syncRoot) => _syncRoot = syncRoot;

    public CancellationToken Token => _source.Token;

    /// <summary>Null when <paramref name="cancellationToken"/> cannot be cancelled. Call it without holding <paramref name="syncRoot"/>.</summary>
    public static LockedCancellation? For(CancellationToken cancellationToken, Lock syncRoot)
    {
        if (!cancellationToken.CanBeCanceled)
        {
            return null;
        }

        var cancellation = new LockedCancellation(syncRoot);
        cancellation._registration = cancellationToken.UnsafeRegister(s_cancel, cancellation);
        return cancellation;
    }

    /// <summary>Unregisters (waiting for a cancellation in progress); call it without holding the lock.</summary>
    public void Dispose()
    {
        _registration.Dispose();
        _source.Dispose();
    }

    private void Cancel()
    {
        // The owner's lock, taken only to wait until no channel operation is being started with this
        // token; nothing of the owner's is read or changed here (its invariants are checked by the
        // owner's own locked blocks).
        lock (_syncRoot)
        {
            _source.Cancel();
        }
    }
}
