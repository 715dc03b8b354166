using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

public sealed class SubscribeTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Subscribe_Echo_OutputsStatusChangesTerminatedThenEnd()
    {
        var id = Ids.New("sub-all");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", BufferWhilePaused = true }).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        await Client.SubmitAsync(id, Value.ForString("one")).DefaultTimeout();
        var one = await events.NextAsync();
        Assert.Equal(1UL, one.Sequence);
        Assert.Equal("one", one.Output.Json.StringValue);
        Assert.NotNull(one.Time);

        await Client.PauseAsync(id).DefaultTimeout();
        var paused = await events.NextAsync();
        Assert.Equal(2UL, paused.Sequence);
        Assert.Equal(FiberStatus.Paused, paused.StatusChanged.Current);

        await Client.InterruptAsync(id).DefaultTimeout();
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(3UL, terminated.Sequence);
        Assert.Equal(ExitKind.Interrupted, terminated.Terminated.Exit.Kind);
        Assert.True(terminated.Time.ToDateTimeOffset() >= one.Time.ToDateTimeOffset());
        Assert.Equal(3, events.Received.Count);
    }

    [Fact]
    public async Task Subscribe_FromSequence_ResumesExactlyAfterN()
    {
        var id = Ids.New("sub-resume");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        for (var i = 1; i <= 6; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
        }

        ulong lastSeen;
        await using (var first = new EventReader(Client, id))
        {
            for (var i = 1; i <= 3; i++)
            {
                Assert.Equal(i, (await first.NextAsync()).Output.Json.NumberValue);
            }

            lastSeen = first.Received[^1].Sequence;
        }

        // Reconnect after the third event: the fourth comes next, nothing is repeated or lost.
        await using var resumed = new EventReader(Client, id, lastSeen);
        for (var i = 4; i <= 6; i++)
        {
            var e = await resumed.NextAsync();
            Assert.Equal(lastSeen + (ulong)(i - 3), e.Sequence);
            Assert.Equal(i, e.Output.Json.NumberValue);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
        var terminated = await resumed.TerminatedThenEndAsync();
        Assert.Equal(7UL, terminated.Sequence);
    }

    [Fact]
    public async Task Subscribe_LateSubscriber_GetsTheReplayWindow()
    {
        var id = Ids.New("sub-replay");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using var early = new EventReader(Client, id);
        for (var i = 1; i <= 3; i++)
        {
            await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
            await early.NextOutputAsync();
        }

        await using var late = new EventReader(Client, id);
        for (var i = 0; i < 3; i++)
        {
            var replayed = await late.NextAsync();
            Assert.Equal(early.Received[i], replayed);
        }

        await Client.SubmitAsync(id, Value.ForNumber(4)).DefaultTimeout();
        Assert.Equal(4, (await late.NextAsync()).Output.Json.NumberValue);
        await Client.InterruptAsync(id).DefaultTimeout();
        await late.TerminatedThenEndAsync();
    }

    [Fact]
    public async Task Subscribe_EndedFiber_ReplaysIncludingTerminatedAndEnds()
    {
        var id = Ids.New("sub-ended");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using (var events = new EventReader(Client, id))
        {
            await Client.SubmitAsync(id, Value.ForString("x")).DefaultTimeout();
            await events.NextOutputAsync();
        }

        var final = await Client.InterruptAsync(id).DefaultTimeout();

        await using var late = new EventReader(Client, id);
        Assert.Equal("x", (await late.NextAsync()).Output.Json.StringValue);
        var terminated = await late.TerminatedThenEndAsync();
        Assert.Equal(final.LastSequence, terminated.Sequence);

        // From the last sequence of an ended fiber: nothing left, the stream ends at once with OK.
        await using var nothing = new EventReader(Client, id, final.LastSequence);
        await nothing.EndsAsync();
    }

    [Fact]
    public async Task Subscribe_FromSequenceBeforeReplayWindow_GapThenRest()
    {
        var id = Ids.New("sub-gap");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using (var events = new EventReader(Client, id))
        {
            // 70 outputs with a 64-event replay window: sequences 1..6 leave the window. The
            // stream is open (first output read) before the rest is published.
            await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
            await events.NextOutputAsync();
            for (var i = 2; i <= 70; i++)
            {
                await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
            }

            for (var i = 2; i <= 70; i++)
            {
                Assert.Equal(i, (await events.NextOutputAsync()).Output.Json.NumberValue);
            }
        }

        await using var resumed = new EventReader(Client, id, 1);
        var gap = await resumed.NextAsync();
        Assert.Equal(FiberEvent.EventOneofCase.Gap, gap.EventCase);
        Assert.Equal(2UL, gap.Gap.FromSequence);
        Assert.Equal(6UL, gap.Gap.ToSequence);
        Assert.Equal(6UL, gap.Sequence);
        var next = await resumed.NextAsync();
        Assert.Equal(7UL, next.Sequence);
        Assert.Equal(7, next.Output.Json.NumberValue);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_FromSequenceBeyondLast_OutOfRangeSequenceOutOfRange()
    {
        var id = Ids.New("sub-out-of-range");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using (var events = new EventReader(Client, id))
        {
            await Client.SubmitAsync(id, Value.ForString("x")).DefaultTimeout();
            await events.NextOutputAsync();
        }

        var error = await RpcAssert.FailsAsync(
            async () =>
            {
                await using var events = new EventReader(Client, id, 5);
                await events.NextAsync();
            },
            StatusCode.OutOfRange,
            ErrorReasons.SequenceOutOfRange);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.LastSequence, "1");
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Subscribe_UnknownFiber_NotFound()
    {
        var id = Ids.New("sub-missing");
        var error = await RpcAssert.FailsAsync(
            async () =>
            {
                await using var events = new EventReader(Client, id);
                await events.NextAsync();
            },
            StatusCode.NotFound,
            ErrorReasons.FiberNotFound);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
    }

    [Fact]
    public async Task Subscribe_FailedFiber_LateSubscriberSeesItsWholeLife()
    {
        // FailOn publishes its outputs, then fails; a late subscriber sees the whole life.
        var id = Ids.New("sub-failed");
        await Client.StartAsync(id, TestWorkflows.FailOn).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("ok")).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("fail")).DefaultTimeout();

        await using var events = new EventReader(Client, id);
        Assert.Equal("ok", (await events.NextAsync()).Output.Json.StringValue);
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(ExitKind.Failed, terminated.Terminated.Exit.Kind);
        Assert.Equal(2UL, terminated.Sequence);
    }
}
