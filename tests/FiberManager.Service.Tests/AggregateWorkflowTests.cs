using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

public sealed class AggregateWorkflowTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    private static void AssertBatch(FiberEvent e, double batch, double count, double sum, double min, double max)
    {
        Assert.Equal(FiberEvent.EventOneofCase.Output, e.EventCase);
        var fields = e.Output.Json.StructValue.Fields;
        Assert.Equal(batch, fields["batch"].NumberValue);
        Assert.Equal(count, fields["count"].NumberValue);
        Assert.Equal(sum, fields["sum"].NumberValue);
        Assert.Equal(sum / count, fields["mean"].NumberValue);
        Assert.Equal(min, fields["min"].NumberValue);
        Assert.Equal(max, fields["max"].NumberValue);
    }

    [Fact]
    public async Task Aggregate_BatchSizeThree_PublishesOneSummaryPerBatch()
    {
        var id = Ids.New("agg-batches");
        await Client.StartAsync(id, "aggregate", TestWorkflows.Args(("batch_size", Value.ForNumber(3)))).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        foreach (var n in new double[] { 1, 2, 3, 10, -4, 0.5 })
        {
            await Client.SubmitAsync(id, Value.ForNumber(n)).DefaultTimeout();
        }

        AssertBatch(await events.NextAsync(), batch: 1, count: 3, sum: 6, min: 1, max: 3);
        AssertBatch(await events.NextAsync(), batch: 2, count: 3, sum: 6.5, min: -4, max: 10);
        await Client.InterruptAsync(id).DefaultTimeout();
        await events.TerminatedThenEndAsync();
        Assert.Equal(3, events.Received.Count);
    }

    [Fact]
    public async Task Aggregate_FieldArg_ReadsTheNumberFromObjects()
    {
        var id = Ids.New("agg-field");
        await Client.StartAsync(id, "aggregate", TestWorkflows.Args(("batch_size", Value.ForNumber(2)), ("field", Value.ForString("amount")))).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        await Client.SubmitAsync(id, Value.ForStruct(new Struct { Fields = { ["amount"] = Value.ForNumber(4) } })).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForStruct(new Struct { Fields = { ["amount"] = Value.ForNumber(6) } })).DefaultTimeout();

        AssertBatch(await events.NextAsync(), batch: 1, count: 2, sum: 10, min: 4, max: 6);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Aggregate_NonNumberInput_ErrorOutputAndBatchContinues()
    {
        var id = Ids.New("agg-error");
        await Client.StartAsync(id, "aggregate", TestWorkflows.Args(("batch_size", Value.ForNumber(2)))).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        await Client.SubmitAsync(id, Value.ForNumber(1)).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("not a number")).DefaultTimeout();
        await Client.SubmitAsync(new SubmitRequest { FiberId = id, Input = FiberManagerClient.Binary([1, 2, 3]) }).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(2)).DefaultTimeout();

        var error = (await events.NextAsync()).Output.Json.StructValue.Fields;
        Assert.Equal("expected a number", error["error"].StringValue);
        Assert.Equal("not a number", error["input"].StringValue);
        var binaryError = (await events.NextAsync()).Output.Json.StructValue.Fields;
        Assert.Contains("binary", binaryError["error"].StringValue, StringComparison.Ordinal);
        Assert.Equal("<3 bytes>", binaryError["input"].StringValue);
        AssertBatch(await events.NextAsync(), batch: 1, count: 2, sum: 3, min: 1, max: 2);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Aggregate_PausedMidBatch_TakesNothingUntilResumeThenFinishesTheBatch()
    {
        var id = Ids.New("agg-pause");
        await Client.StartAsync(new StartRequest
        {
            FiberId = id,
            Workflow = "aggregate",
            Args = TestWorkflows.Args(("batch_size", Value.ForNumber(3))),
            BufferWhilePaused = true,
        }).DefaultTimeout();
        await using var events = new EventReader(Client, id);

        // 4 starts the batch; the error output for "sync" proves 4 was taken before it.
        await Client.SubmitAsync(id, Value.ForNumber(4)).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForString("sync")).DefaultTimeout();
        Assert.True((await events.NextAsync()).Output.Json.StructValue.Fields.ContainsKey("error"));

        await Client.PauseAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, (await events.NextAsync()).StatusChanged.Current);
        await Client.SubmitAsync(id, Value.ForNumber(5)).DefaultTimeout();
        await Client.SubmitAsync(id, Value.ForNumber(6)).DefaultTimeout();

        var paused = await Client.GetStatusAsync(id).DefaultTimeout();
        Assert.Equal(FiberStatus.Paused, paused.Status);
        Assert.Equal(2U, paused.QueueDepth);
        Assert.Equal(2UL, paused.InputsProcessed);

        await Client.ResumeAsync(id).DefaultTimeout();
        var rest = new[] { await events.NextAsync(), await events.NextAsync() };
        Assert.Single(rest, e => e.EventCase == FiberEvent.EventOneofCase.StatusChanged && e.StatusChanged.Current == FiberStatus.Running);
        AssertBatch(Assert.Single(rest, e => e.EventCase == FiberEvent.EventOneofCase.Output), batch: 1, count: 3, sum: 15, min: 4, max: 6);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Theory]
    [InlineData("batch_size", 0.0)]
    [InlineData("batch_size", 2.5)]
    [InlineData("batch_size", 10001.0)]
    [InlineData("unknown", 1.0)]
    public async Task Start_AggregateBadArgs_InvalidArgumentFieldArgs(string key, double value)
    {
        var id = Ids.New("agg-bad-args");
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(id, "aggregate", TestWorkflows.Args((key, Value.ForNumber(value)))),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "args");
        Assert.StartsWith($"args.{key} ", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error.Status.Detail, StringComparison.Ordinal);

        // Nothing was registered under the id.
        await RpcAssert.FailsAsync(() => Client.GetStatusAsync(id), StatusCode.NotFound, ErrorReasons.FiberNotFound);
    }

    [Fact]
    public async Task Start_AggregateFieldNotAString_InvalidArgumentFieldArgs()
    {
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(Ids.New("agg-bad-field"), "aggregate", TestWorkflows.Args(("field", Value.ForNumber(1)))),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "args");
    }
}
