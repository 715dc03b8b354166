using System.Diagnostics;
using FiberManager.Core.Management;
using Google.Protobuf.WellKnownTypes;
using static FiberManager.Hardening.Tests.Faults.EventStreams;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>The host stopping while workflows and clients misbehave.</summary>
[Collection(FaultCollection.Name)]
public sealed class ShutdownFaultTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HostStops_WithMisbehavingFibersAndClients_EveryFiberEnds_SubscribersGetTerminated(bool stalledSubscriber)
    {
        var shutdownTimeout = TimeSpan.FromSeconds(5);
        // Only "hang" ignores cancellation. The grace is long enough that "flood" (which stops at
        // its next token check) is never abandoned because its thread lost the core on a busy
        // machine, and short enough that the stop still ends well inside the shutdown timeout.
        var grace = TimeSpan.FromSeconds(2);
        await using var host = await FaultHost.StartAsync(new Dictionary<string, string?>
        {
            ["FiberManager:Server:ShutdownTimeout"] = shutdownTimeout.ToString(),
            ["FiberManager:InterruptGracePeriod"] = grace.ToString(),
        });
        var client = host.Client;

        await client.StartAsync("hang", FaultWorkflows.Hang).DefaultTimeout();
        await client.StartAsync("flood", FaultWorkflows.Flood).DefaultTimeout();
        await client.StartAsync("gate", FaultWorkflows.Gate).DefaultTimeout();
        await host.Signals.When("hang", "started").DefaultTimeout();
        for (var i = 0; i < 3; i++)
        {
            await client.SubmitAsync("gate", Value.ForNumber(i)).DefaultTimeout();
        }

        // A subscriber that reads, and one that never reads again (the flood fills its windows at once).
        await using var reading = client.SubscribeAsync("gate").GetAsyncEnumerator();
        var collecting = Task.Run(async () =>
        {
            var events = new List<V1.FiberEvent>();
            while (await reading.MoveNextAsync())
            {
                events.Add(reading.Current);
            }

            return events;
        });
        using var raw = new RawGrpcClient(host.Host.Address);
        using var stalled = stalledSubscriber ? await raw.SubscribeAsync("flood") : null;
        RawStream? stalledOnBig = null;
        if (stalledSubscriber)
        {
            // 2 MiB of outputs to a subscriber that never reads: its HTTP/2 windows are certainly full.
            await client.StartAsync("big", "echo").DefaultTimeout();
            await client.SubmitAsync("big", Value.ForString("first")).DefaultTimeout();
            stalledOnBig = await raw.SubscribeAsync("big");
            for (var i = 0; i < 64; i++)
            {
                await client.SubmitAsync(new V1.SubmitRequest { FiberId = "big", Input = new V1.Payload { Binary = Google.Protobuf.ByteString.CopyFrom(new byte[32 * 1024]) } }).DefaultTimeout();
            }

            await host.WaitForStatusAsync("big", f => f.InputsProcessed == 65, "all processed");
        }
        await host.WaitForStatusAsync("gate", f => f.Subscribers == 1, "the reader subscribed");

        var stopwatch = Stopwatch.StartNew();
        await host.Host.App.StopAsync().WaitAsync(shutdownTimeout + TestTimeouts.Default);
        var elapsed = stopwatch.Elapsed;
        output.WriteLine($"stalled subscriber: {stalledSubscriber}; stopped in {elapsed.TotalMilliseconds:F0} ms");
        if (!stalledSubscriber)
        {
            // Every stream was ended by the service itself, not reset by Kestrel at the shutdown timeout.
            Assert.True(elapsed < shutdownTimeout, $"stopping took {elapsed}, the whole shutdown timeout");
        }

        // With a subscriber that stopped reading, its stream cannot be ended cleanly: Kestrel resets
        // it when the shutdown timeout expires (the stop takes that long; everything else is as above).

        var terminated = AssertWellFormed(await collecting.DefaultTimeout());
        Assert.Equal(V1.ExitKind.Interrupted, terminated.Exit.Kind);
        Assert.Equal(3ul, terminated.Exit.InputsUnprocessed);

        host.Manager.CheckInvariants();
        var stats = host.Manager.GetStatistics();
        Assert.True(stats.ShuttingDown);
        Assert.Equal(0, stats.LiveFibers);
        Assert.Equal(0, stats.PermitsInUse);
        Assert.Equal(1, stats.AbandonedFibers);
        foreach (var fiber in host.Manager.List().Fibers)
        {
            Assert.Equal(ManagedFiberStatus.Interrupted, fiber.Status);
            Assert.Equal(fiber.InputsAccepted, fiber.InputsProcessed + fiber.Termination!.InputsUnprocessed);
        }

        host.Signals.Set("hang", "release");
        stalledOnBig?.Dispose();
    }
}
