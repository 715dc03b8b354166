using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

public sealed class StartTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Start_Echo_CreatedWithFiberInfoFields()
    {
        var id = Ids.New("start-fields");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var request = new StartRequest { FiberId = id, Workflow = "echo", InputCapacity = 7 };
        request.Labels.Add("team", "payments");
        request.Labels.Add("tier", "gold");

        var response = await Client.StartAsync(request).DefaultTimeout();

        Assert.True(response.Created);
        var fiber = response.Fiber;
        Assert.Equal(id, fiber.FiberId);
        Assert.Equal("echo", fiber.Workflow);
        Assert.Contains(fiber.Status, new[] { FiberStatus.Idle, FiberStatus.Running });
        Assert.Equal(2, fiber.Labels.Count);
        Assert.Equal("payments", fiber.Labels["team"]);
        Assert.Equal("gold", fiber.Labels["tier"]);
        Assert.NotNull(fiber.CreateTime);
        Assert.True(fiber.CreateTime.ToDateTimeOffset() >= before);
        Assert.NotNull(fiber.StartTime);
        Assert.True(fiber.StartTime.ToDateTimeOffset() >= fiber.CreateTime.ToDateTimeOffset());
        Assert.Null(fiber.EndTime);
        Assert.Null(fiber.Exit);
        Assert.Equal(0U, fiber.QueueDepth);
        Assert.Equal(7U, fiber.InputCapacity);
        Assert.Equal(0UL, fiber.InputsAccepted);
        Assert.Equal(0UL, fiber.InputsProcessed);
        Assert.Equal(0UL, fiber.OutputsPublished);
        Assert.Equal(0U, fiber.Subscribers);
        Assert.Equal(0U, fiber.Restarts);
        Assert.Equal(string.Empty, fiber.LastError);
        Assert.Equal(0UL, fiber.LastSequence);

        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(fiber.CreateTime, status.CreateTime);
        Assert.Equal(fiber.Labels, status.Labels);

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_DefaultInputCapacity_IsServerDefault()
    {
        var id = Ids.New("start-default-capacity");
        var response = await Client.StartAsync(id, "echo").DefaultTimeout();
        Assert.Equal(64U, response.Fiber.InputCapacity);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_SameRequestIdTwice_ReturnsTheFirstFiberNotCreated()
    {
        var id = Ids.New("start-idempotent");
        var request = new StartRequest { FiberId = id, Workflow = "echo", RequestId = "req-1" };

        var first = await Client.StartAsync(request).DefaultTimeout();
        var retry = await Client.StartAsync(request).DefaultTimeout();

        Assert.True(first.Created);
        Assert.False(retry.Created);
        Assert.Equal(first.Fiber.CreateTime, retry.Fiber.CreateTime);
        Assert.Equal(id, retry.Fiber.FiberId);

        // Another request id on the same live fiber is a conflict (policy FAIL by default).
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", RequestId = "req-2" }),
            StatusCode.AlreadyExists,
            ErrorReasons.FiberAlreadyExists);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);

        // The retried request id still returns the fiber after it ended (it is retained).
        await Client.InterruptAsync(id).DefaultTimeout();
        var afterEnd = await Client.StartAsync(request).DefaultTimeout();
        Assert.False(afterEnd.Created);
        Assert.Equal(FiberStatus.Interrupted, afterEnd.Fiber.Status);
        Assert.Equal(first.Fiber.CreateTime, afterEnd.Fiber.CreateTime);
    }

    [Fact]
    public async Task Start_ConflictUseExisting_ReturnsExistingUnchanged()
    {
        var id = Ids.New("start-use-existing");
        var first = await Client.StartAsync(id, "echo").DefaultTimeout();

        var second = await Client.StartAsync(new StartRequest
        {
            FiberId = id,
            Workflow = "aggregate",
            ConflictPolicy = ConflictPolicy.UseExisting,
            InputCapacity = 3,
        }).DefaultTimeout();

        Assert.False(second.Created);
        Assert.Equal("echo", second.Fiber.Workflow);
        Assert.Equal(first.Fiber.CreateTime, second.Fiber.CreateTime);
        Assert.Equal(first.Fiber.InputCapacity, second.Fiber.InputCapacity);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_ConflictReplace_OldFiberInterruptedNewOneRuns()
    {
        var id = Ids.New("start-replace");
        var first = await Client.StartAsync(id, "echo").DefaultTimeout();
        await using var old = new EventReader(Client, id);
        await Client.SubmitAsync(id, Value.ForString("to the old one")).DefaultTimeout();
        Assert.Equal("to the old one", (await old.NextOutputAsync()).Output.Json.StringValue);

        var replaced = await Client.StartAsync(new StartRequest
        {
            FiberId = id,
            Workflow = "aggregate",
            ConflictPolicy = ConflictPolicy.Replace,
        }).DefaultTimeout();

        Assert.True(replaced.Created);
        Assert.Equal("aggregate", replaced.Fiber.Workflow);
        Assert.Contains(replaced.Fiber.Status, new[] { FiberStatus.Idle, FiberStatus.Running });
        Assert.NotEqual(first.Fiber.CreateTime, replaced.Fiber.CreateTime);

        // The old fiber's stream ends with its terminated event: interrupted by the replacement.
        var terminated = await old.TerminatedThenEndAsync();
        Assert.Equal(ExitKind.Interrupted, terminated.Terminated.Exit.Kind);
        Assert.Contains("replace", terminated.Terminated.Exit.Message, StringComparison.Ordinal);

        // A sequence of its own: its one event so far is PENDING -> RUNNING (it held the id as
        // PENDING while the old one ended, and was admitted then).
        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal("aggregate", status.Workflow);
        Assert.Equal(1UL, status.LastSequence);
        await using (var fresh = new EventReader(Client, id))
        {
            var admitted = await fresh.NextAsync();
            Assert.Equal(1UL, admitted.Sequence);
            Assert.Equal(FiberStatus.Pending, admitted.StatusChanged.Previous);
            Assert.Equal(FiberStatus.Running, admitted.StatusChanged.Current);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_IdOfEndedFiber_CreatesANewFiber()
    {
        var id = Ids.New("start-after-end");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await Client.InterruptAsync(id).DefaultTimeout();

        var again = await Client.StartAsync(id, "echo").DefaultTimeout();

        Assert.True(again.Created);
        Assert.Contains(again.Fiber.Status, new[] { FiberStatus.Idle, FiberStatus.Running });
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_StartPaused_StatusPaused()
    {
        var id = Ids.New("start-paused");
        var response = await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", StartPaused = true }).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, response.Fiber.Status);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_AggregateWithArgs_Created()
    {
        var id = Ids.New("start-aggregate");
        var response = await Client.StartAsync(id, "aggregate", TestWorkflows.Args(("batch_size", Value.ForNumber(5)), ("field", Value.ForString("amount")))).DefaultTimeout();
        Assert.True(response.Created);
        Assert.Equal("aggregate", response.Fiber.Workflow);
        await Client.InterruptAsync(id).DefaultTimeout();
    }
}
