using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Client.Tests;

/// <summary>The README's .NET client snippets, run as written against the real service (its address and a fresh id in place of 127.0.0.1:50051 and "chat-1").</summary>
public sealed class ReadmeClientTourTests(ServiceFixture fixture) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task WithTheDotNetClient_StartSubmitSubscribePauseResumeInterrupt()
    {
        var chat = Ids.New("chat");
        using var client = new FiberManagerClient(fixture.Host.Address);
        await client.StartAsync(chat, "echo").DefaultTimeout();

        var submitted = await client.SubmitAsync(chat, Value.ForString("hello")).DefaultTimeout();
        Assert.Equal(1UL, submitted.Sequence);
        FiberEvent? output = null;
        using var bounded = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in client.SubscribeAsync(chat, cancellationToken: bounded.Token))
        {
            if (e.EventCase == FiberEvent.EventOneofCase.Output)
            {
                output = e;
                break;
            }
        }

        Assert.Equal("hello", output?.Output.Json.StringValue);
        Assert.Equal(FiberStatus.Paused, (await client.PauseAsync(chat).DefaultTimeout()).Status);
        await client.ResumeAsync(chat).DefaultTimeout();
        FiberInfo final = await client.InterruptAsync(chat).DefaultTimeout();
        Assert.Equal(FiberStatus.Interrupted, final.Status);
    }

    [Fact]
    public async Task ErrorHandling_CatchByReason()
    {
        var chat = Ids.New("chat");
        using var client = new FiberManagerClient(fixture.Host.Address);
        await client.StartAsync(new StartRequest { FiberId = chat, Workflow = "echo", InputCapacity = 1, StartPaused = true, BufferWhilePaused = true }).DefaultTimeout();
        await client.SubmitAsync(chat, Value.ForString("fills the queue")).DefaultTimeout();
        var backedOff = false;
        try
        {
            await client.SubmitAsync(new SubmitRequest { FiberId = chat, Input = FiberManagerClient.Json(Value.ForString("one more")), QueueFullPolicy = QueueFullPolicy.Reject }).DefaultTimeout();
        }
        catch (RpcException e) when (e.GetReason() == ErrorReasons.InputQueueFull)
        {
            backedOff = true;
        }

        Assert.True(backedOff);
        await client.InterruptAsync(chat).DefaultTimeout();
    }

    [Fact]
    public async Task DependencyInjection_OneLine()
    {
        var services = new ServiceCollection();
        services.AddFiberManagerClient(o => o.Address = fixture.Host.Address);
        await using var provider = services.BuildServiceProvider();
        Assert.NotEmpty(await provider.GetRequiredService<FiberManagerClient>().ListWorkflowsAsync().DefaultTimeout());
    }
}
