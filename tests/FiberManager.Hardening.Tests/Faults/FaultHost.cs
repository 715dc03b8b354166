using System.Collections.Concurrent;
using FiberManager.Core.Management;
using FiberManager.Protocol;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using HealthV1 = Grpc.Health.V1;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests.Faults;

/// <summary>
/// A fresh service per test with the fault workflows registered, short grace and hook timeouts,
/// small subscriber buffers, and a log sink; plus the invariant check every fault test ends with.
/// </summary>
public sealed class FaultHost : IAsyncDisposable
{
    public static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(200);
    public const int SubscriberBuffer = 16;

    private FaultHost(ServiceHost host, LogSink logs)
    {
        Host = host;
        Logs = logs;
        Signals = host.App.Services.GetRequiredService<FaultSignals>();
        Manager = host.App.Services.GetRequiredService<FiberSupervisor<V1.Payload, V1.Payload>>();
    }

    public ServiceHost Host { get; }

    public Client.FiberManagerClient Client => Host.Client;

    public FaultSignals Signals { get; }

    public FiberSupervisor<V1.Payload, V1.Payload> Manager { get; }

    public LogSink Logs { get; }

    public static async Task<FaultHost> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["FiberManager:InterruptGracePeriod"] = Grace.ToString(),
            ["FiberManager:TerminateHookTimeout"] = Grace.ToString(),
            ["FiberManager:SubscriberBufferCapacity"] = SubscriberBuffer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FiberManager:ReplayCapacity"] = "16",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var logs = new LogSink();
        var host = await ServiceHost.StartAsync(all, builder =>
        {
            FaultWorkflows.Register(builder);
            builder.Logging.AddProvider(logs);
        });
        return new FaultHost(host, logs);
    }

    public static V1.Payload Json(string text) => new() { Json = Value.ForString(text) };

    /// <summary>
    /// Ends every fiber still live (Interrupt returns once a fiber's cleanup is done, and for an
    /// ended fiber once its cleanup has finished), then asserts what must hold whatever happened:
    /// the manager's own invariants; permits in use == fibers holding one, with no waiter left;
    /// ListFibers agrees with the manager's counters; every accepted input of every fiber was
    /// processed or counted unprocessed (and, for the fibers in <paramref name="acceptedByTest"/>,
    /// accepted == the Submits the test saw succeed); health SERVING.
    /// </summary>
    public async Task EndAllAndAssertInvariantsAsync(IReadOnlyDictionary<string, long>? acceptedByTest = null)
    {
        var fibers = await ListAllAsync();
        await Task.WhenAll(fibers.Select(f => Client.InterruptAsync(f.FiberId, Grace))).DefaultTimeout();
        await AssertInvariantsAsync(acceptedByTest, expectLive: 0);
    }

    /// <summary>The checks of <see cref="EndAllAndAssertInvariantsAsync"/> without ending anything; <paramref name="expectLive"/> fibers still hold permits.</summary>
    public async Task AssertInvariantsAsync(IReadOnlyDictionary<string, long>? acceptedByTest, int expectLive)
    {
        Manager.CheckInvariants();
        var stats = Manager.GetStatistics();
        Assert.Equal(expectLive, stats.PermitsInUse);
        Assert.Equal(expectLive, stats.LiveFibers);
        Assert.Equal(0, stats.PermitWaiters);
        Assert.Equal(0, stats.PendingFibers);
        Assert.False(stats.ShuttingDown);

        var fibers = await ListAllAsync();
        var ended = fibers.Where(f => f.Status is V1.FiberStatus.Completed or V1.FiberStatus.Failed or V1.FiberStatus.Interrupted).ToList();
        Assert.Equal(expectLive, fibers.Count - ended.Count);
        // ListFibers shows one fiber per id: a retained fiber whose id a live one took again is not listed.
        Assert.InRange(stats.RetainedFibers, ended.Count, ended.Count + expectLive);
        Assert.Equal(0, fibers.Count(f => f.Status == V1.FiberStatus.Pending));
        foreach (var fiber in ended)
        {
            Assert.NotNull(fiber.Exit);
            Assert.True(
                fiber.InputsProcessed + fiber.Exit.InputsUnprocessed == fiber.InputsAccepted,
                $"{fiber.FiberId}: processed {fiber.InputsProcessed} + unprocessed {fiber.Exit.InputsUnprocessed} != accepted {fiber.InputsAccepted}");
            Assert.Equal(0u, fiber.QueueDepth);
            if (fiber.Subscribers != 0)
            {
                // A stream the client reset just now is removed when the server notices: soon, never not at all.
                await WaitForStatusAsync(fiber.FiberId, f => f.Subscribers == 0, "the ended fiber's subscriptions removed");
            }
        }

        foreach (var (id, accepted) in acceptedByTest ?? new Dictionary<string, long>())
        {
            var fiber = await Client.GetStatusAsync(id).DefaultTimeout();
            Assert.True(accepted == (long)fiber.InputsAccepted, $"{id}: the test saw {accepted} Submits succeed, the fiber accepted {fiber.InputsAccepted}");
        }

        await AssertServingAsync();
    }

    public async Task AssertServingAsync()
    {
        var result = await Host.Raw.CallAsync("/grpc.health.v1.Health/Check", new HealthV1.HealthCheckRequest()).DefaultTimeout();
        Assert.Equal(Grpc.Core.StatusCode.OK, result.Status);
        var response = result.Single(HealthV1.HealthCheckResponse.Parser);
        Assert.Equal(HealthV1.HealthCheckResponse.Types.ServingStatus.Serving, response.Status);
    }

    public async Task<List<V1.FiberInfo>> ListAllAsync()
    {
        var all = new List<V1.FiberInfo>();
        var token = "";
        for (var page = 0; page < 1_000; page++)
        {
            var response = await Client.ListFibersAsync(new V1.ListFibersRequest { PageSize = 500, PageToken = token }).DefaultTimeout();
            all.AddRange(response.Fibers);
            token = response.NextPageToken;
            if (token.Length == 0)
            {
                return all;
            }
        }

        throw new InvalidOperationException("ListFibers never reached its last page.");
    }

    /// <summary>Polls GetStatus until <paramref name="condition"/> holds (for what the server learns asynchronously, such as a dropped connection); bounded.</summary>
    public async Task<V1.FiberInfo> WaitForStatusAsync(string fiberId, Func<V1.FiberInfo, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        V1.FiberInfo info;
        while (!condition(info = await Client.GetStatusAsync(fiberId).DefaultTimeout()))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{fiberId}: {what} did not happen within {TestTimeouts.Default}: {info}");
            await Task.Delay(10);
        }

        return info;
    }

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();

    /// <summary>Collects log records (warnings and worse, per the host's configuration).</summary>
    public sealed class LogSink : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, EventId EventId, LogLevel Level, string Message)> Records { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        public int Count(string eventName) => Records.Count(r => r.EventId.Name == eventName);

        private sealed class Logger(LogSink sink, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                sink.Records.Enqueue((category, eventId, logLevel, formatter(state, exception)));
        }
    }
}
