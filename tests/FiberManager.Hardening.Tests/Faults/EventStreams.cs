using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

internal static class EventStreams
{
    /// <summary>Every event until the stream ends; throws if it ends with a status other than OK or takes too long.</summary>
    public static async Task<List<V1.FiberEvent>> CollectToEndAsync(IAsyncEnumerable<V1.FiberEvent> stream)
    {
        var events = new List<V1.FiberEvent>();
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in stream.WithCancellation(timeout.Token))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>
    /// Asserts what every subscriber must see: sequences after <paramref name="after"/> with no
    /// silent hole (each event is the next sequence, or a gap covering exactly what was missed),
    /// and the terminated event last, exactly once. From sequence 0 a subscriber starts at the
    /// oldest event still in the replay window (what was evicted before it subscribed is not owed to it).
    /// </summary>
    public static V1.Terminated AssertWellFormed(IReadOnlyList<V1.FiberEvent> events, ulong after = 0)
    {
        Assert.NotEmpty(events);
        var previous = after == 0 && events[0].EventCase != V1.FiberEvent.EventOneofCase.Gap ? events[0].Sequence - 1 : after;
        foreach (var e in events)
        {
            if (e.EventCase == V1.FiberEvent.EventOneofCase.Gap)
            {
                Assert.True(e.Gap.FromSequence == previous + 1 && e.Gap.ToSequence == e.Sequence, $"gap {e.Gap.FromSequence}..{e.Gap.ToSequence} at {e.Sequence} after {previous}");
            }
            else
            {
                Assert.True(e.Sequence == previous + 1, $"event {e.Sequence} after {previous}: a hole not reported as a gap");
            }

            previous = e.Sequence;
        }

        Assert.Equal(1, events.Count(e => e.EventCase == V1.FiberEvent.EventOneofCase.Terminated));
        Assert.Equal(V1.FiberEvent.EventOneofCase.Terminated, events[^1].EventCase);
        return events[^1].Terminated;
    }

    public static IEnumerable<V1.Payload> Outputs(IEnumerable<V1.FiberEvent> events) =>
        events.Where(e => e.EventCase == V1.FiberEvent.EventOneofCase.Output).Select(e => e.Output);

    /// <summary>A raw Subscribe stream (for subscribers that stall, reset or lose their connection), once its first event is on the way.</summary>
    public static Task<RawStream> SubscribeAsync(this RawGrpcClient raw, string fiberId, ulong fromSequence = 0) =>
        raw.OpenStreamAsync(RawGrpcClient.SubscribePath, new V1.SubscribeRequest { FiberId = fiberId, FromSequence = fromSequence });

    /// <summary>The next event of a raw Subscribe stream, or null at its end.</summary>
    public static Task<V1.FiberEvent?> ReadEventAsync(this RawStream stream) => stream.ReadAsync(V1.FiberEvent.Parser);
}
