using System.Diagnostics;
using System.Runtime.CompilerServices;
using FiberManager.Core.Hub;

namespace FiberManager.Core.Management;

/// <summary>
/// A subscription to one fiber's events: outputs, status changes, gaps, and finally the
/// terminated event, after which it ends. It has its own bounded buffer: if it falls behind,
/// it gets a gap event instead of slowing the fiber. Dispose it to unsubscribe.
/// </summary>
/// <typeparam name="TOutput">The output type.</typeparam>
/// <example><code>
/// using var subscription = manager.Subscribe("chat-1");
/// await foreach (var e in subscription.ReadAllAsync(cancellationToken))
///     Console.WriteLine($"{e.Sequence}: {e.Kind}");
/// </code></example>
[DebuggerDisplay("FiberSubscription")]
public sealed class FiberSubscription<TOutput> : IDisposable
{
    private readonly HubSubscription<EventPayload<TOutput>> _subscription;

    private readonly FiberSupervisorMetrics? _metrics;
    private readonly string _workflow;

    internal FiberSubscription(HubSubscription<EventPayload<TOutput>> subscription, FiberSupervisorMetrics? metrics = null, string workflow = "")
    {
        _subscription = subscription;
        _metrics = metrics;
        _workflow = workflow;
    }

    /// <summary>Takes the next buffered event, if any.</summary>
    public bool TryRead(out FiberEvent<TOutput> fiberEvent)
    {
        if (_subscription.TryRead(out var entry))
        {
            fiberEvent = ToEvent(entry);
            if (entry.IsGap)
            {
                _metrics?.GapDelivered(_workflow);
            }

            return true;
        }

        fiberEvent = default;
        return false;
    }

    /// <summary>Waits for an event; false once the terminated event has been read (or the subscription was disposed).</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _subscription.WaitToReadAsync(cancellationToken);

    /// <summary>Every event until (and including) the terminated event.</summary>
    public async IAsyncEnumerable<FiberEvent<TOutput>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var fiberEvent))
            {
                yield return fiberEvent;
            }
        }
    }

    /// <summary>Unsubscribes.</summary>
    public void Dispose() => _subscription.Dispose();

    private static FiberEvent<TOutput> ToEvent(HubEntry<EventPayload<TOutput>> entry)
    {
        if (entry.IsGap)
        {
            return new FiberEvent<TOutput> { Sequence = entry.Sequence, Time = entry.Time, Kind = FiberEventKind.Gap, GapFrom = entry.GapFrom, GapTo = entry.GapTo };
        }

        var payload = entry.Value;
        return new FiberEvent<TOutput>
        {
            Sequence = entry.Sequence,
            Time = entry.Time,
            Kind = payload.Kind,
            Output = payload.Output,
            PreviousStatus = payload.Previous,
            Status = payload.Current,
            Termination = payload.Termination,
        };
    }
}
