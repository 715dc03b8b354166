using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

public sealed class SubmitTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    [Fact]
    public async Task Submit_ToPausedBufferingFiber_SequenceAndQueueDepthCount()
    {
        var id = Ids.New("submit-seq");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();

        for (var i = 1; i <= 3; i++)
        {
            var response = await Client.SubmitAsync(id, Value.ForNumber(i)).DefaultTimeout();
            Assert.Equal((ulong)i, response.Sequence);
            Assert.Equal((uint)i, response.QueueDepth);
            Assert.False(response.Duplicate);
        }

        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(3U, status.QueueDepth);
        Assert.Equal(3UL, status.InputsAccepted);
        Assert.Equal(0UL, status.InputsProcessed);

        await using var events = new EventReader(Client, id);
        await Client.ResumeAsync(id).DefaultTimeout();
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(i, (await events.NextOutputAsync()).Output.Json.NumberValue);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_SameSubmitIdTwice_DuplicateWithOriginalSequenceAndOneOutput()
    {
        var id = Ids.New("submit-dup");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using var events = new EventReader(Client, id);

        var first = await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForString("a")), SubmitId = "msg-1" }).DefaultTimeout();
        var retry = await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForString("a")), SubmitId = "msg-1" }).DefaultTimeout();
        var next = await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForString("b")), SubmitId = "msg-2" }).DefaultTimeout();

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.Sequence, retry.Sequence);
        Assert.Equal(first.Sequence + 1, next.Sequence);

        // The duplicate was not enqueued: "a" then "b", nothing in between.
        Assert.Equal("a", (await events.NextOutputAsync()).Output.Json.StringValue);
        Assert.Equal("b", (await events.NextOutputAsync()).Output.Json.StringValue);
        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(2UL, status.InputsAccepted);
        Assert.Equal(2UL, status.OutputsPublished);

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_JsonPayloads_EchoedExactly()
    {
        var id = Ids.New("submit-json");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using var events = new EventReader(Client, id);
        var nested = new Struct
        {
            Fields =
            {
                ["text"] = Value.ForString("héllo ✓ 🚀 \"quoted\" \n newline"),
                ["number"] = Value.ForNumber(-12.5e-3),
                ["flag"] = Value.ForBool(true),
                ["nothing"] = Value.ForNull(),
                ["list"] = Value.ForList(Value.ForNumber(1), Value.ForString("two"), Value.ForStruct(new Struct { Fields = { ["deep"] = Value.ForList() } })),
            },
        };
        Value[] inputs =
        [
            Value.ForStruct(nested),
            Value.ForNull(),
            Value.ForBool(false),
            Value.ForNumber(double.MaxValue),
            Value.ForString(string.Empty),
            Value.ForList(),
        ];

        foreach (var input in inputs)
        {
            await Client.SubmitAsync(id, input).DefaultTimeout();
        }

        foreach (var input in inputs)
        {
            var output = (await events.NextOutputAsync()).Output;
            Assert.Equal(Payload.KindOneofCase.Json, output.KindCase);
            Assert.Equal(input, output.Json);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_BinaryPayloads_EchoedByteExact()
    {
        var id = Ids.New("submit-binary");
        await Client.StartAsync(id, "echo").DefaultTimeout();
        await using var events = new EventReader(Client, id);
        var allBytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var large = new byte[256 * 1024];
        new Random(42).NextBytes(large);
        byte[][] inputs = [allBytes, [], [0, 0, 0], large];

        foreach (var input in inputs)
        {
            await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Binary(input) }).DefaultTimeout();
        }

        foreach (var input in inputs)
        {
            var output = (await events.NextOutputAsync()).Output;
            Assert.Equal(Payload.KindOneofCase.Binary, output.KindCase);
            Assert.Equal(input, output.Binary.ToByteArray());
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_InputUnset_InvalidArgumentFieldInput()
    {
        var id = Ids.New("submit-unset");
        await Client.StartAsync(id, "echo").DefaultTimeout();

        var error = await RpcAssert.FailsAsync(() => Client.SubmitAsync(new SubmitRequest { FiberId = id }), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "input");

        error = await RpcAssert.FailsAsync(() => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = new Payload() }), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "input");

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_UnknownQueueFullPolicy_InvalidArgument()
    {
        var id = Ids.New("submit-bad-policy");
        await Client.StartAsync(id, "echo").DefaultTimeout();

        var error = await RpcAssert.FailsAsync(
            () => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(1)), QueueFullPolicy = (QueueFullPolicy)99 }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "queue_full_policy");

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Submit_QueueFullWithReject_ResourceExhaustedInputQueueFull()
    {
        var id = Ids.New("submit-full");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        var first = await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(1)), QueueFullPolicy = QueueFullPolicy.Reject }).DefaultTimeout();
        Assert.Equal(1U, first.QueueDepth);

        var error = await RpcAssert.FailsAsync(
            () => Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)), QueueFullPolicy = QueueFullPolicy.Reject }),
            StatusCode.ResourceExhausted,
            ErrorReasons.InputQueueFull);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.QueueDepth, "1");
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.InputCapacity, "1");

        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(1U, status.QueueDepth);
        Assert.Equal(1UL, status.InputsAccepted);

        var final = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(1UL, final.Exit.InputsUnprocessed);
    }

    [Fact]
    public async Task Submit_QueueFullWithWaitAndClientTimeout_DeadlineExceededAndServerHealthy()
    {
        var id = Ids.New("submit-deadline");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = TestWorkflows.NeverReads, InputCapacity = 1 }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();

        var error = await Assert.ThrowsAsync<RpcException>(
            () => Client.SubmitAsync(
                new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForNumber(2)), QueueFullPolicy = QueueFullPolicy.Wait },
                new CallOptions(deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(300)))).DefaultTimeout();
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);

        // The server is fine: the fiber is live, the input that timed out was not accepted.
        var status = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Running, status.Status);
        Assert.Equal(1U, status.QueueDepth);
        Assert.Equal(1UL, status.InputsAccepted);
        var workflows = await Client.ListWorkflowsAsync().DefaultTimeout();
        Assert.Contains(workflows, w => w.Name == "echo");

        var final = await Client.InterruptAsync(id).DefaultTimeout();
        Assert.Equal(1UL, final.Exit.InputsUnprocessed);
    }

    [Fact]
    public async Task Submit_QueueFullWithWait_CompletesWhenRoomFrees()
    {
        var id = Ids.New("submit-wait");
        await Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", InputCapacity = 1, StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("first")).DefaultTimeout();

        // No deadline at all: the call waits for room however long it takes.
        var waiting = Client.SubmitAsync(
            new SubmitRequest { FiberId = id, Input = FiberManagerClient.Json(Value.ForString("second")) },
            new CallOptions(deadline: DateTime.MaxValue));
        await using var events = new EventReader(Client, id);
        Assert.False(waiting.IsCompleted);

        await Client.ResumeAsync(id).DefaultTimeout();

        var accepted = await waiting.DefaultTimeout();
        Assert.Equal(2UL, accepted.Sequence);
        Assert.Equal("first", (await events.NextOutputAsync()).Output.Json.StringValue);
        Assert.Equal("second", (await events.NextOutputAsync()).Output.Json.StringValue);
        await Client.InterruptAsync(id).DefaultTimeout();
    }
}
