using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using FiberManager.Protocol.V1;
using Grpc.Core;
using Stub = FiberManager.Protocol.V1.FiberManager.FiberManagerClient;

namespace FiberManager.Client;

/// <summary>
/// A Subscribe stream that reopens itself after its connection broke, from the last sequence it
/// delivered, so that the caller sees one stream: no event twice, none skipped (what the server
/// no longer has arrives as its Gap event).
/// </summary>
/// <remarks>
/// <para>
/// Resumed: UNAVAILABLE, and a stream or connection reset (a transport error under any status).
/// Not resumed: the end of the stream, anything after the Terminated event (the fiber's story
/// is complete), a status the server sent (NOT_FOUND, OUT_OF_RANGE, …), the deadline, and
/// cancellation by the caller (which surfaces as <see cref="OperationCanceledException"/>).
/// </para>
/// <para>
/// The first reopening is immediate, each further one waits for the backoff; after
/// <see cref="RetrySettings.MaxRetries"/> reopenings in a row that broke before delivering an
/// event, the last error is thrown. Written here rather than with grpc-dotnet's retry policy
/// (which stops retrying once a response message has arrived) or a Polly pipeline (which repeats
/// a callback, while a resumed subscription continues an enumeration that has already yielded).
/// </para>
/// </remarks>
internal static class ResumingSubscription
{
    /// <summary>The events of <paramref name="request"/>'s fiber after its <c>from_sequence</c>, resumed across broken connections.</summary>
    public static async IAsyncEnumerable<FiberEvent> ReadAsync(
        Stub calls,
        RetrySettings resume,
        SubscribeRequest request,
        CallOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var callOptions = CallTokens.Combine(options, cancellationToken, out var linked);
        using (linked)
        {
            var token = callOptions.CancellationToken;
            var position = request.FromSequence;
            var terminated = false;
            var failures = 0;
            while (true)
            {
                var next = request.Clone();
                next.FromSequence = position;
                Step step;
                using (var call = calls.Subscribe(next, callOptions))
                {
                    while ((step = await ReadNextAsync(call, token).ConfigureAwait(false)).Event is { } e)
                    {
                        failures = 0;
                        position = e.Sequence; // for a Gap: its to_sequence, the last one accounted for
                        terminated |= e.EventCase == FiberEvent.EventOneofCase.Terminated;
                        yield return e;
                    }
                }

                if (step.Failure is not { } failure || terminated)
                {
                    yield break;
                }

                if (++failures > resume.MaxRetries)
                {
                    ExceptionDispatchInfo.Throw(failure);
                }

                if (failures > 1)
                {
                    await Task.Delay(resume.BackoffBefore(failures - 1), token).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// True for a lost connection or a reset stream rather than an answer of the server:
    /// UNAVAILABLE, or any status grpc-dotnet made up from an I/O error of the transport (a reset
    /// stream is INTERNAL or CANCELLED with an <see cref="HttpIOException"/>). Not a TLS failure
    /// (INTERNAL from an <see cref="HttpRequestException"/>): it would fail again.
    /// </summary>
    private static bool IsConnectionFailure(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable || (e.StatusCode != StatusCode.DeadlineExceeded && e.Status.DebugException is IOException);

    private static async ValueTask<Step> ReadNextAsync(AsyncServerStreamingCall<FiberEvent> call, CancellationToken token)
    {
        try
        {
            return await call.ResponseStream.MoveNext(CancellationToken.None).ConfigureAwait(false) ? new Step(call.ResponseStream.Current, null) : default;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && token.IsCancellationRequested)
        {
            throw new OperationCanceledException("The subscription was cancelled.", e, token);
        }
        catch (RpcException e) when (IsConnectionFailure(e) && !token.IsCancellationRequested)
        {
            return new Step(null, e);
        }
    }

    /// <summary>The next event, or the end of the stream (both null), or a broken connection.</summary>
    private readonly record struct Step(FiberEvent? Event, RpcException? Failure);
}
