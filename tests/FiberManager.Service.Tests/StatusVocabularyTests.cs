using FiberManager.Client;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Service.Tests;

/// <summary>
/// One status vocabulary (the contract, <c>FiberStatus</c> in fiber.proto): a client that follows
/// a fiber's status_changed events, starting from the status its Start answered, agrees with
/// GetStatus and with every Start, Pause, Resume and Interrupt response once it reads IDLE as
/// RUNNING; events never carry IDLE or a final status, and each event starts where the one
/// before it ended. Over gRPC, from the .NET client, against a service with one permit so that
/// PENDING happens too.
/// </summary>
public sealed class StatusVocabularyTests(SinglePermitServiceFixture fixture) : IClassFixture<SinglePermitServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task FollowingEvents_PendingRunningPausedInterrupted_AgreesWithGetStatusAndTheResponses()
    {
        var holder = Ids.New("holder");
        var id = Ids.New("follow");
        await Client.StartAsync(holder, "echo").DefaultTimeout();
        var started = await Client.StartAsync(new StartRequest
        {
            FiberId = id,
            Workflow = "echo",
            Admission = AdmissionPolicy.Queue,
            BufferWhilePaused = true,
        }).DefaultTimeout();
        Assert.Equal(FiberStatus.Pending, started.Fiber.Status);
        await using var events = new EventReader(Client, id);
        var follower = new StatusFollower(started.Fiber.Status);
        follower.AgreesWith(started.Fiber);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // The permit frees: PENDING -> RUNNING.
        await Client.InterruptAsync(holder).DefaultTimeout();
        await follower.ReadStatusChangeAsync(events, FiberStatus.Running);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // An input comes and goes (RUNNING, IDLE in GetStatus): outputs, no status event.
        await Client.SubmitAsync(id, Value.ForString("one")).DefaultTimeout();
        Assert.Equal("one", (await follower.ReadOutputAsync(events)).Json.StringValue);
        await follower.AgreesWithGetStatusAsync(Client, id);
        await Eventually.UntilAsync(() => Client.GetStatusAsync(id), info => info.Status == FiberStatus.Idle);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // Pause: the response, GetStatus and the event say PAUSED.
        var paused = await Client.PauseAsync(id).DefaultTimeout();
        await follower.ReadStatusChangeAsync(events, FiberStatus.Paused);
        follower.AgreesWith(paused);
        await follower.AgreesWithGetStatusAsync(Client, id);
        await Client.SubmitAsync(id, Value.ForString("held")).DefaultTimeout();
        await follower.AgreesWithGetStatusAsync(Client, id);

        // Resume: PAUSED -> RUNNING before the held input's output; the response may say IDLE.
        var resumed = await Client.ResumeAsync(id).DefaultTimeout();
        await follower.ReadStatusChangeAsync(events, FiberStatus.Running);
        follower.AgreesWith(resumed);
        Assert.Equal("held", (await follower.ReadOutputAsync(events)).Json.StringValue);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // Interrupt: the response, GetStatus and the terminated event end it INTERRUPTED.
        var interrupted = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, interrupted.Status);
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Equal(ExitKind.Interrupted, terminated.Terminated.Exit.Kind);
        Assert.Equal(FiberStatus.Interrupted, (await Client.GetStatusAsync(id).DefaultTimeout()).Status);
        follower.AssertNoIdleOrFinalStatusIn(events.Received);
    }

    [Fact]
    public async Task FollowingEvents_StartedPausedAndBackingOff_AgreesWithGetStatusAndTheResponses()
    {
        var id = Ids.New("backoff");
        var started = await Client.StartAsync(new StartRequest
        {
            FiberId = id,
            Workflow = TestWorkflows.FailOn,
            StartPaused = true,
            BufferWhilePaused = true,
            RestartPolicy = new RestartPolicy { Mode = RestartMode.OnFailure, MaxRestarts = 3, InitialBackoff = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)), MaxBackoff = Duration.FromTimeSpan(TimeSpan.FromMinutes(10)) },
        }).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, started.Fiber.Status);
        await using var events = new EventReader(Client, id);
        var follower = new StatusFollower(started.Fiber.Status);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // Resume, then an input that fails the workflow: RUNNING, then BACKING_OFF for ten minutes.
        var resumed = await Client.ResumeAsync(id).DefaultTimeout();
        await follower.ReadStatusChangeAsync(events, FiberStatus.Running);
        follower.AgreesWith(resumed);
        await Client.SubmitAsync(id, Value.ForString("fail")).DefaultTimeout();
        await follower.ReadStatusChangeAsync(events, FiberStatus.BackingOff);
        await follower.AgreesWithGetStatusAsync(Client, id);

        // Pausing a fiber that backs off changes no status (it backs off either way): no event.
        follower.AgreesWith(await Client.PauseAsync(id).DefaultTimeout());
        await follower.AgreesWithGetStatusAsync(Client, id);

        Assert.Equal(FiberStatus.Interrupted, (await Client.InterruptAsync(id).DefaultTimeout()).Status);
        await events.TerminatedThenEndAsync();
        follower.AssertNoIdleOrFinalStatusIn(events.Received);
    }

    /// <summary>What a client following the events knows of the fiber's status.</summary>
    private sealed class StatusFollower(FiberStatus startedAs)
    {
        /// <summary>The life-cycle status events use: IDLE reads as RUNNING.</summary>
        public static FiberStatus Lifecycle(FiberStatus status) => status == FiberStatus.Idle ? FiberStatus.Running : status;

        public FiberStatus Current { get; private set; } = Lifecycle(startedAs);

        /// <summary>Reads the next event: a status change to <paramref name="expected"/>, starting where the last one ended.</summary>
        public async Task ReadStatusChangeAsync(EventReader events, FiberStatus expected)
        {
            var next = await events.NextAsync();
            Assert.Equal(FiberEvent.EventOneofCase.StatusChanged, next.EventCase);
            Assert.Equal(Current, next.StatusChanged.Previous);
            Assert.Equal(expected, next.StatusChanged.Current);
            Current = next.StatusChanged.Current;
        }

        /// <summary>Reads the next event: an output (no status change comes first).</summary>
        public async Task<Payload> ReadOutputAsync(EventReader events)
        {
            var next = await events.NextAsync();
            Assert.Equal(FiberEvent.EventOneofCase.Output, next.EventCase);
            return next.Output;
        }

        public async Task AgreesWithGetStatusAsync(FiberManagerClient client, string id) =>
            Assert.Equal(Current, Lifecycle((await client.GetStatusAsync(id).DefaultTimeout()).Status));

        /// <summary>A response (read after the event its call caused, if any) says what the events say.</summary>
        public void AgreesWith(FiberInfo response) => Assert.Equal(Current, Lifecycle(response.Status));

        public void AssertNoIdleOrFinalStatusIn(IEnumerable<FiberEvent> received)
        {
            foreach (var change in received.Where(e => e.EventCase == FiberEvent.EventOneofCase.StatusChanged).Select(e => e.StatusChanged))
            {
                Assert.DoesNotContain(change.Previous, s_notInEvents);
                Assert.DoesNotContain(change.Current, s_notInEvents);
            }
        }

        private static readonly FiberStatus[] s_notInEvents =
            [FiberStatus.Idle, FiberStatus.Completed, FiberStatus.Failed, FiberStatus.Interrupted, FiberStatus.Unspecified];
    }
}
