using System.Diagnostics;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Health.V1;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FiberManager.Service.Tests;

/// <summary>Each test stops its own host.</summary>
public sealed class ShutdownTests
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(10);

    private static Task<ServiceHost> StartHostAsync() => ServiceHost.StartAsync(
        new Dictionary<string, string?>
        {
            ["FiberManager:InterruptGracePeriod"] = "00:00:01",
            ["FiberManager:Server:ShutdownTimeout"] = "00:00:10",
        },
        TestWorkflows.Register);

    [Fact]
    public async Task StopHost_OpenSubscribeStreams_EachGetsTerminatedAndEndsOk()
    {
        var host = await StartHostAsync();
        await using var _ = host;
        var client = host.Client;
        var ids = Enumerable.Range(0, 4).Select(i => Ids.New($"shutdown-{i}")).ToArray();
        var readers = new List<EventReader>();
        for (var i = 0; i < ids.Length; i++)
        {
            await client.StartAsync(ids[i], i == 3 ? TestWorkflows.Stubborn : "echo").DefaultTimeout();
        }

        // Two streams per fiber, each open (first output read) before the host stops.
        foreach (var id in ids)
        {
            await client.SubmitAsync(id, Value.ForString("before shutdown")).DefaultTimeout();
        }

        foreach (var id in ids.Take(3))
        {
            for (var k = 0; k < 2; k++)
            {
                var reader = new EventReader(client, id);
                Assert.Equal("before shutdown", (await reader.NextOutputAsync()).Output.Json.StringValue);
                readers.Add(reader);
            }
        }

        // The stubborn fiber never reads: its streams are open once it reports a subscriber.
        var stubbornReaders = new[] { new EventReader(client, ids[3]), new EventReader(client, ids[3]) };
        var stubbornTerminated = stubbornReaders.Select(r => r.TerminatedThenEndAsync()).ToArray();
        await Eventually.UntilAsync(() => client.GetStatusAsync(ids[3]), s => s.Subscribers == 2);

        var stopwatch = Stopwatch.StartNew();
        var stopping = host.App.StopAsync();

        var terminated = await Task.WhenAll(readers.Select(r => r.TerminatedThenEndAsync()).Concat(stubbornTerminated)).DefaultTimeout();
        foreach (var e in terminated)
        {
            Assert.Equal(ExitKind.Interrupted, e.Terminated.Exit.Kind);
            Assert.Contains("shutdown", e.Terminated.Exit.Message, StringComparison.Ordinal);
        }

        Assert.All(terminated[^2..], e => Assert.Contains("abandoned", e.Terminated.Exit.Message, StringComparison.Ordinal));
        await stopping.DefaultTimeout();
        Assert.True(stopwatch.Elapsed < ShutdownTimeout, $"Shutdown took {stopwatch.Elapsed}, the shutdown timeout is {ShutdownTimeout}.");

        foreach (var reader in readers.Concat(stubbornReaders))
        {
            await reader.DisposeAsync();
        }
    }

    /// <summary>
    /// Health turns NOT_SERVING the moment the host starts stopping (ApplicationStopping, while
    /// Kestrel still serves): Check says so for the server and the service, and an open Watch
    /// stream receives NOT_SERVING and ends with OK.
    /// </summary>
    [Fact]
    public async Task HostStopping_HealthCheckNotServing_WatchSeesNotServingThenEndsOk()
    {
        var host = await StartHostAsync();
        await using var _ = host;
        using var raw = new RawGrpcClient(host.Address);
        using var watch = await raw.OpenStreamAsync("/grpc.health.v1.Health/Watch", new HealthCheckRequest { Service = "fibermanager.v1.FiberManager" });
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await watch.ReadAsync(HealthCheckResponse.Parser))!.Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, await CheckAsync(raw, string.Empty));

        host.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var (updates, status) = await watch.ReadToEndAsync(HealthCheckResponse.Parser);
        Assert.Equal([HealthCheckResponse.Types.ServingStatus.NotServing], updates.Select(u => u.Status));
        Assert.Equal("0", status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await CheckAsync(raw, string.Empty));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, await CheckAsync(raw, "fibermanager.v1.FiberManager"));
    }

    private static async Task<HealthCheckResponse.Types.ServingStatus> CheckAsync(RawGrpcClient raw, string service)
    {
        var result = await raw.CallAsync("/grpc.health.v1.Health/Check", new HealthCheckRequest { Service = service });
        Assert.Equal(global::Grpc.Core.StatusCode.OK, result.Status);
        return result.Single(HealthCheckResponse.Parser).Status;
    }

    [Fact]
    public async Task Start_DuringHostShutdown_UnavailableShuttingDown()
    {
        var host = await StartHostAsync();
        await using var _ = host;
        var client = host.Client;
        var live = Ids.New("shutdown-live");
        await client.StartAsync(live, "echo").DefaultTimeout();
        await using var events = new EventReader(client, live);
        await client.SubmitAsync(live, Value.ForNumber(1)).DefaultTimeout();
        await events.NextOutputAsync();

        // The host is stopping (ApplicationStopping fired) while Kestrel still serves requests.
        host.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var id = Ids.New("shutdown-start");
        var error = await RpcAssert.FailsAsync(() => client.StartAsync(id, "echo"), StatusCode.Unavailable, ErrorReasons.ShuttingDown);
        Assert.Contains("shutting down", error.Status.Detail, StringComparison.Ordinal);

        // The live fiber's stream ends cleanly with its terminated event.
        var terminated = await events.TerminatedThenEndAsync();
        Assert.Contains("shutdown", terminated.Terminated.Exit.Message, StringComparison.Ordinal);
    }
    [Fact]
    public async Task StartWaitingForAPermit_HostStops_UnavailableShuttingDown()
    {
        var host = await ServiceHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["FiberManager:InterruptGracePeriod"] = "00:00:01",
                ["FiberManager:MaxConcurrentFibers"] = "1",
            },
            TestWorkflows.Register);
        await using var _ = host;
        var client = host.Client;
        await client.StartAsync(Ids.New("shutdown-holder"), "echo").DefaultTimeout();
        var id = Ids.New("shutdown-waiter");
        var waiting = client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", Admission = AdmissionPolicy.Wait, PermitTimeout = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)) });
        await Eventually.UntilAsync<FiberInfo?>(
            async () =>
            {
                try
                {
                    return await client.GetStatusAsync(id);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    return null; // the waiting Start has not reached the manager yet
                }
            },
            s => s?.Status == FiberStatus.Pending);

        host.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        // Not created=true with an INTERRUPTED fiber: the Start failed, and the fiber is gone.
        var error = await RpcAssert.FailsAsync(() => waiting, StatusCode.Unavailable, ErrorReasons.ShuttingDown);
        Assert.Contains("shutting down", error.Status.Detail, StringComparison.Ordinal);
    }
}
