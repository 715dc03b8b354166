using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>
/// Subscribe resumes by itself when its connection is lost: the client reaches the service
/// through a <see cref="LoopbackProxy"/> that the test cuts, holds or refuses; inputs go to the
/// service directly. Whatever happens, the events form one sequence without repeats, and
/// without holes except the ranges the server reports as a Gap.
/// </summary>
public sealed class ResumingSubscriptionTests(SmallReplayServiceFixture fixture) : IClassFixture<SmallReplayServiceFixture>, IAsyncLifetime
{
    private LoopbackProxy _proxy = null!;

    private FiberManagerClient Direct => fixture.Host.Client;

    public Task InitializeAsync()
    {
        _proxy = new LoopbackProxy(fixture.Host.Address);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    [Fact]
    public async Task ConnectionCutMidStream_ContinuesWithTheNextSequence_NoDuplicates()
    {
        using var client = new FiberManagerClient(_proxy.Address);
        var id = await StartEchoAsync();
        var call = Ids.New("subscribe");
        await using var events = new Events(client.SubscribeAsync(new SubscribeRequest { FiberId = id }, ServiceFixture.Marked(call)));
        await SubmitAsync(id, 1, 3);
        await events.ReadOutputsUntilAsync(3);

        _proxy.Cut();
        await SubmitAsync(id, 4, 6);
        await events.ReadOutputsUntilAsync(6);

        Assert.Equal([1, 2, 3, 4, 5, 6], events.Outputs);
        events.AssertOneSequenceWithoutGaps();
        Assert.Equal(2, fixture.Log.AttemptsOf(call).Count);
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task StreamResetByTheServer_ContinuesWithTheNextSequence_NoDuplicates()
    {
        using var client = new FiberManagerClient(fixture.Host.Address);
        var id = await StartEchoAsync();
        var call = Ids.New("subscribe");
        await using var events = new Events(client.SubscribeAsync(new SubscribeRequest { FiberId = id }, ServiceFixture.Marked(call)));
        await SubmitAsync(id, 1, 2);
        await events.ReadOutputsUntilAsync(2);

        Assert.Equal(1, fixture.Log.ResetInFlight(call));
        await SubmitAsync(id, 3, 4);
        await events.ReadOutputsUntilAsync(4);

        Assert.Equal([1, 2, 3, 4], events.Outputs);
        events.AssertOneSequenceWithoutGaps();
        Assert.Equal(2, fixture.Log.AttemptsOf(call).Count);
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task EventsLeftTheReplayWindowWhileDisconnected_GapForThemThenTheRest()
    {
        using var client = new FiberManagerClient(_proxy.Address);
        var (id, events) = await SubscribedAfterFirstOutputAsync(client);
        await using var _ = events;
        var seen = events.Received[^1].Sequence;

        _proxy.Hold();
        _proxy.Cut();
        await SubmitAsync(id, 2, 12);
        await WaitForOutputAsync(id, 12); // published: more than the replay window since `seen`
        _proxy.Release();
        await events.ReadOutputsUntilAsync(12);

        var gap = events.Received.First(e => e.EventCase == FiberEvent.EventOneofCase.Gap);
        Assert.Equal(seen + 1, gap.Gap.FromSequence);
        Assert.Equal(gap.Sequence, gap.Gap.ToSequence);
        Assert.Equal(12, events.Outputs[^1]);
        Assert.True(events.Outputs.Count < 12, "every output arrived: the replay window was not exceeded");
        events.AssertOneSequenceWithoutGaps();
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task FiberEndsWhileDisconnected_TerminatedArrivesAfterTheResume_ThenTheStreamEnds()
    {
        using var client = new FiberManagerClient(_proxy.Address);
        var (id, events) = await SubscribedAfterFirstOutputAsync(client);
        await using var _ = events;

        _proxy.Hold();
        _proxy.Cut();
        Assert.Equal(FiberStatus.Interrupted, (await Direct.InterruptAsync(id).DefaultTimeout()).Status);
        _proxy.Release();

        var terminated = await events.ReadUntilAsync(e => e.EventCase == FiberEvent.EventOneofCase.Terminated);
        Assert.Equal(ExitKind.Interrupted, terminated.Terminated.Exit.Kind);
        await events.EndsAsync();
        events.AssertOneSequenceWithoutGaps();
    }

    [Fact]
    public async Task CutAgainAndAgain_EveryResumeThatBringsAnEventStartsTheCountAgain()
    {
        using var client = new FiberManagerClient(FastRetries.Options(_proxy.Address, maxResumes: 1));
        var id = await StartEchoAsync();
        await using var events = new Events(client.SubscribeAsync(id));
        for (var i = 1; i <= 4; i++)
        {
            await SubmitAsync(id, i, i);
            await events.ReadOutputsUntilAsync(i);
            _proxy.Cut();
        }

        await SubmitAsync(id, 5, 5);
        await events.ReadOutputsUntilAsync(5);
        Assert.Equal([1, 2, 3, 4, 5], events.Outputs);
        events.AssertOneSequenceWithoutGaps();
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task ServiceUnreachable_GivesUpWithUnavailable()
    {
        using var client = new FiberManagerClient(FastRetries.Options(_proxy.Address, maxResumes: 2));
        var (id, events) = await SubscribedAfterFirstOutputAsync(client);
        await using var _ = events;

        _proxy.Refuse(true);
        _proxy.Cut();
        var error = await Assert.ThrowsAsync<RpcException>(() => events.ReadOutputsUntilAsync(2));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task UnavailableOnEveryReopening_ExactlyMaxRetriesReopenings()
    {
        using var client = new FiberManagerClient(FastRetries.Options(fixture.Host.Address, maxResumes: 3));
        var id = await StartEchoAsync();
        var call = Ids.New("subscribe");

        await using var events = new Events(client.SubscribeAsync(new SubscribeRequest { FiberId = id }, ServiceFixture.Marked(call, failAttempts: 100)));
        var error = await Assert.ThrowsAsync<RpcException>(() => events.ReadOutputsUntilAsync(1));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(4, fixture.Log.AttemptsOf(call).Count);
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task ResumeOff_ConnectionCut_Unavailable()
    {
        using var client = new FiberManagerClient(FastRetries.Options(_proxy.Address, maxResumes: 0));
        var (id, events) = await SubscribedAfterFirstOutputAsync(client);
        await using var _ = events;

        _proxy.Cut();
        var error = await Assert.ThrowsAsync<RpcException>(() => events.ReadOutputsUntilAsync(2));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(1, _proxy.Accepted);
        await Direct.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task ServerAnswersNotFound_NotResumed()
    {
        using var client = new FiberManagerClient(_proxy.Address);
        var call = Ids.New("subscribe");
        await using var events = new Events(client.SubscribeAsync(new SubscribeRequest { FiberId = Ids.New("nobody") }, ServiceFixture.Marked(call)));

        var error = await Assert.ThrowsAsync<RpcException>(() => events.ReadOutputsUntilAsync(1));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(Protocol.ErrorReasons.FiberNotFound, error.GetReason());
        Assert.Single(fixture.Log.AttemptsOf(call));
    }

    /// <summary>A fresh echo fiber and <paramref name="client"/>'s subscription to it, which has delivered the output of input 1.</summary>
    private async Task<(string Id, Events Events)> SubscribedAfterFirstOutputAsync(FiberManagerClient client)
    {
        var id = await StartEchoAsync();
        var events = new Events(client.SubscribeAsync(id));
        await SubmitAsync(id, 1, 1);
        await events.ReadOutputsUntilAsync(1);
        return (id, events);
    }

    private async Task<string> StartEchoAsync()
    {
        var id = Ids.New("resume");
        await Direct.StartAsync(id, "echo").DefaultTimeout();
        return id;
    }

    private async Task SubmitAsync(string id, int from, int to)
    {
        for (var i = from; i <= to; i++)
        {
            await Direct.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }
    }

    /// <summary>Waits until the fiber has published <paramref name="value"/> (read from the service directly).</summary>
    private async Task WaitForOutputAsync(string id, int value)
    {
        using var bounded = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in Direct.SubscribeAsync(id, cancellationToken: bounded.Token))
        {
            if (e.EventCase == FiberEvent.EventOneofCase.Output && (int)e.Output.Json.NumberValue == value)
            {
                return;
            }
        }
    }

    /// <summary>A subscription read event by event (every read bounded), keeping what it received.</summary>
    private sealed class Events(IAsyncEnumerable<FiberEvent> events) : IAsyncDisposable
    {
        private readonly IAsyncEnumerator<FiberEvent> _events = events.GetAsyncEnumerator();

        public List<FiberEvent> Received { get; } = [];

        public List<int> Outputs { get; } = [];

        public async Task ReadOutputsUntilAsync(int value) =>
            await ReadUntilAsync(e => e.EventCase == FiberEvent.EventOneofCase.Output && (int)e.Output.Json.NumberValue == value);

        public async Task<FiberEvent> ReadUntilAsync(Func<FiberEvent, bool> done)
        {
            while (true)
            {
                Assert.True(await _events.MoveNextAsync().AsTask().DefaultTimeout(), "The stream ended before the expected event.");
                var e = _events.Current;
                Received.Add(e);
                if (e.EventCase == FiberEvent.EventOneofCase.Output)
                {
                    Outputs.Add((int)e.Output.Json.NumberValue);
                }

                if (done(e))
                {
                    return e;
                }
            }
        }

        public async Task EndsAsync() => Assert.False(await _events.MoveNextAsync().AsTask().DefaultTimeout(), "Expected the stream to end.");

        /// <summary>Each event's sequence follows the previous one's (a Gap accounts for its range): nothing twice, nothing skipped silently.</summary>
        public void AssertOneSequenceWithoutGaps()
        {
            for (var i = 1; i < Received.Count; i++)
            {
                var e = Received[i];
                var first = e.EventCase == FiberEvent.EventOneofCase.Gap ? e.Gap.FromSequence : e.Sequence;
                Assert.True(first == Received[i - 1].Sequence + 1, $"event {i} ({e}) does not follow sequence {Received[i - 1].Sequence}");
            }
        }

        public ValueTask DisposeAsync() => _events.DisposeAsync();
    }
}
