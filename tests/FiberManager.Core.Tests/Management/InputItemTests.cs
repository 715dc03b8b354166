using System.Diagnostics;
using System.Threading.Channels;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;

namespace FiberManager.Core.Tests.Management;

/// <summary>
/// What travels with an input to the workflow: its sequence number and submit id (what Submit
/// answered) and the trace context of the activity current at Submit, so that a workflow's
/// processing span can link to the Submit that carried the input.
/// </summary>
public sealed class InputItemTests : ManagerTestBase
{
    private static (IWorkflow<int, int> Workflow, ChannelReader<InputItem<int>> Items) Recorder()
    {
        var items = Channel.CreateUnbounded<InputItem<int>>();
        var workflow = Workflow.Create<int, int>(async ctx =>
        {
            await foreach (var item in ctx.Input.ReadAllItemsAsync(ctx.CancellationToken))
            {
                items.Writer.TryWrite(item);
            }
        });
        return (workflow, items.Reader);
    }

    [Fact]
    public async Task Submit_UnderAnActivity_TheWorkflowReadsItsTraceContext_WithTheSequenceAndSubmitIdSubmitAnswered()
    {
        var manager = NewManager();
        var (workflow, items) = Recorder();
        await manager.StartAsync("f", "recorder", workflow).DefaultTimeout();

        SubmitResult result;
        ActivityContext submitContext;
        using (var submit = new Activity("submit").Start())
        {
            submitContext = submit.Context;
            result = await manager.SubmitAsync("f", 42, submitId: "msg-1").DefaultTimeout();
        }

        var item = await items.ReadAsync().AsTask().DefaultTimeout();
        Assert.Equal(new InputItem<int>(42, result.Sequence, "msg-1", submitContext), item);
        Assert.NotEqual(default, item.SubmitContext);
    }

    [Fact]
    public async Task Submit_OutsideAnyActivity_TheInputCarriesNoTraceContext()
    {
        var manager = NewManager();
        var (workflow, items) = Recorder();
        await manager.StartAsync("f", "recorder", workflow).DefaultTimeout();
        Assert.Null(Activity.Current);

        var first = await manager.SubmitAsync("f", 1).DefaultTimeout();
        var second = await manager.SubmitAsync("f", 2).DefaultTimeout();

        Assert.Equal(new InputItem<int>(1, first.Sequence, null, default), await items.ReadAsync().AsTask().DefaultTimeout());
        Assert.Equal(new InputItem<int>(2, second.Sequence, null, default), await items.ReadAsync().AsTask().DefaultTimeout());
    }

    [Fact]
    public async Task Submit_EachInputKeepsTheContextOfItsOwnSubmit_ThroughAFullQueue()
    {
        var manager = NewManager();
        var release = Gate.Create();
        var items = Channel.CreateUnbounded<InputItem<int>>();
        var workflow = Workflow.Create<int, int>(async ctx =>
        {
            await release.Task;
            await foreach (var item in ctx.Input.ReadAllItemsAsync(ctx.CancellationToken))
            {
                items.Writer.TryWrite(item);
            }
        });
        await manager.StartAsync("f", "recorder", workflow, new StartOptions { InputCapacity = 1 }).DefaultTimeout();

        var contexts = new ActivityContext[3];
        var submits = new Task<SubmitResult>[3];
        for (var i = 0; i < 3; i++)
        {
            using var submit = new Activity($"submit-{i}").Start();
            contexts[i] = submit.Context;
            submits[i] = manager.SubmitAsync("f", i, FullQueueMode.Wait).AsTask(); // the second and third wait for room
        }

        release.SetResult();
        var results = await Task.WhenAll(submits).DefaultTimeout();
        for (var i = 0; i < 3; i++)
        {
            var item = await items.Reader.ReadAsync().AsTask().DefaultTimeout();
            Assert.Equal(results[item.Value].Sequence, item.Sequence);
            Assert.Equal(contexts[item.Value], item.SubmitContext);
        }
    }
}
