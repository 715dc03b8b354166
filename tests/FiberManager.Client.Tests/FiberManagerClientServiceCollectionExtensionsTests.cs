using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FiberManager.Client.Tests;

/// <summary><c>services.AddFiberManagerClient(...)</c>: a working client from the gRPC client factory, with the options applied.</summary>
public sealed class FiberManagerClientServiceCollectionExtensionsTests(SecuredServiceFixture fixture) : IClassFixture<SecuredServiceFixture>
{
    private ServiceProvider ProviderWithTheKey() => new ServiceCollection()
        .AddFiberManagerClient(o =>
        {
            o.Address = fixture.Host.Address;
            o.ApiKey = SecuredServiceFixture.Key;
        })
        .BuildServiceProvider();

    [Fact]
    public async Task AddFiberManagerClient_ResolvesAWorkingClient_SendingTheApiKey()
    {
        await using var provider = ProviderWithTheKey();
        var client = provider.GetRequiredService<FiberManagerClient>();
        var id = Ids.New("di");
        var start = Ids.New("start");

        Assert.True((await client.StartAsync(id, "echo", options: ServiceFixture.Marked(start)).DefaultTimeout()).Created);
        await client.SubmitAsync(id, Value.ForString("from DI")).DefaultTimeout();
        await using (var events = client.SubscribeAsync(id).GetAsyncEnumerator())
        {
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
            Assert.Equal("from DI", events.Current.Output.Json.StringValue);
        }

        Assert.Equal(["Bearer " + SecuredServiceFixture.Key], Assert.Single(fixture.Log.AttemptsOf(start)).Values("authorization"));
        Assert.NotEmpty(Assert.Single(fixture.Log.AttemptsOf(start)).Values("grpc-timeout")); // the default unary deadline
        Assert.Equal(FiberStatus.Interrupted, (await provider.GetRequiredService<FiberManagerClient>().InterruptAsync(id).DefaultTimeout()).Status);
    }

    [Fact]
    public async Task AddFiberManagerClient_StartWithRequestIdRetried_StartWithoutNot()
    {
        await using var provider = ProviderWithTheKey();
        var client = provider.GetRequiredService<FiberManagerClient>();
        var id = Ids.New("di-retry");

        var once = Ids.New("start-once");
        var error = await Assert.ThrowsAsync<RpcException>(
            () => client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo" }, ServiceFixture.Marked(once, failAttempts: 1))).DefaultTimeout();
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Single(fixture.Log.AttemptsOf(once));

        var retried = Ids.New("start-retried");
        var request = new StartRequest { FiberId = id, Workflow = "echo", RequestId = Ids.New("request") };
        Assert.True((await client.StartAsync(request, ServiceFixture.Marked(retried, failAttempts: 1)).DefaultTimeout()).Created);
        Assert.Equal(2, fixture.Log.AttemptsOf(retried).Count);
        await client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task AddFiberManagerClient_CalledTwice_BothConfigurationsApply()
    {
        await using var provider = new ServiceCollection()
            .AddFiberManagerClient(o => o.Address = fixture.Host.Address)
            .AddFiberManagerClient(o => o.ApiKey = SecuredServiceFixture.Key)
            .BuildServiceProvider();
        var call = Ids.New("list");

        Assert.NotEmpty(await provider.GetRequiredService<FiberManagerClient>().ListWorkflowsAsync(ServiceFixture.Marked(call)).DefaultTimeout());

        Assert.Equal(["Bearer " + SecuredServiceFixture.Key], Assert.Single(fixture.Log.AttemptsOf(call)).Values("authorization"));
    }

    [Fact]
    public async Task AddFiberManagerClient_InvalidOptions_HostFailsToStartNamingEveryProblem()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddFiberManagerClient(o =>
        {
            o.Address = new Uri("ftp://fibers.example.com");
            o.ApiKey = " padded";
            o.SubscribeResume.MaxRetries = -1;
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync()).DefaultTimeout();

        Assert.Contains("Address must be an absolute http:// or https:// URL (got 'ftp://fibers.example.com/')", error.Message, StringComparison.Ordinal);
        Assert.Contains("ApiKey must be non-empty", error.Message, StringComparison.Ordinal);
        Assert.Contains("SubscribeResume.MaxRetries must be between 0 and 100 (got -1)", error.Message, StringComparison.Ordinal);
    }
}
