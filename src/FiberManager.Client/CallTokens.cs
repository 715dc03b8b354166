using Grpc.Core;

namespace FiberManager.Client;

/// <summary>One cancellation token per call from a call's <see cref="CallOptions"/> and the method's token.</summary>
internal static class CallTokens
{
    /// <summary>
    /// <paramref name="options"/> with a token that is cancelled when either its own token or
    /// <paramref name="cancellationToken"/> is; <paramref name="linked"/> is the source to dispose
    /// after the call when both can be cancelled (null otherwise).
    /// </summary>
    public static CallOptions Combine(CallOptions options, CancellationToken cancellationToken, out CancellationTokenSource? linked)
    {
        linked = null;
        if (!cancellationToken.CanBeCanceled)
        {
            return options;
        }

        if (!options.CancellationToken.CanBeCanceled)
        {
            return options.WithCancellationToken(cancellationToken);
        }

        linked = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken, cancellationToken);
        return options.WithCancellationToken(linked.Token);
    }
}
