using System.Diagnostics.Metrics;
using FiberManager.Core.Management;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using Names = FiberManager.Core.Management.FiberSupervisorTelemetryNames;

namespace FiberManager.Telemetry.Tests;

public sealed class CoreMetricsTests : IAsyncLifetime
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly IMeterFactory _factory;
    private readonly MeterProvider _meterProvider;
    private readonly ExportedMetrics _metrics;
    private FiberSupervisor<string, string> _manager = null!;

    public CoreMetricsTests()
    {
        _factory = _services.GetRequiredService<IMeterFactory>();
        _metrics = new ExportedMetrics(() => _meterProvider!); // built just below, with the exporter writing to _metrics.Items
        _meterProvider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(Names.MeterName)
            .AddInMemoryExporter(_metrics.Items, ExportedMetrics.ReadOnDemand)
            .Build();
    }

    public Task InitializeAsync()
    {
        _manager = new FiberSupervisor<string, string>(new FiberSupervisorOptions { SubscriberBufferCapacity = 2, ReplayCapacity = 0 }, meterFactory: _factory);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _manager.DisposeAsync();
        _meterProvider.Dispose();
        await _services.DisposeAsync();
    }

    [Fact]
    public void Instruments_AllPublished_WithUnitsAndDescriptions()
    {
        // Published, measured or not: what a MeterListener sees (an exporter sees measured instruments only).
        var published = new Dictionary<string, Instrument>(StringComparer.Ordinal);
        using (var listener = new MeterListener { InstrumentPublished = (i, _) => published.TryAdd(i.Name, i) })
        {
            listener.Start();
        }

        string[] expected =
        [
            Names.Fibers, Names.PermitsInUse, Names.PermitsLimit, Names.PermitsWaiting, Names.InputQueueDepth,
            Names.Submits, Names.OutputsPublished, Names.Gaps, Names.Terminations, Names.Restarts,
        ];

        var ours = published.Values.Where(i => ReferenceEquals(i.Meter.Scope, _factory)).ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), ours.Select(i => i.Name).Order(StringComparer.Ordinal));
        foreach (var instrument in ours)
        {
            Assert.Equal(Names.MeterName, instrument.Meter.Name);
            Assert.False(string.IsNullOrEmpty(instrument.Unit), instrument.Name);
            Assert.False(string.IsNullOrEmpty(instrument.Description), instrument.Name);
        }
    }

    [Fact]
    public async Task Lifecycle_RecordsSubmitsOutputsGaugesAndTermination_WithoutFiberIdTags()
    {
        const string fiberId = "tenant-secret-4711";
        var echo = Workflow.Create<string, string>(async ctx =>
        {
            await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
            {
                ctx.Publish(item);
            }
        });
        await _manager.StartAsync(fiberId, "echo-test", echo).WaitAsync(s_timeout);
        using var subscription = _manager.Subscribe(fiberId);

        await _manager.SubmitAsync(fiberId, "a", submitId: "s-1");
        var duplicate = await _manager.SubmitAsync(fiberId, "a", submitId: "s-1");
        Assert.True(duplicate.Duplicate);
        await ReadUntilAsync(subscription, e => e.Kind == FiberEventKind.Output);

        _manager.Pause(fiberId);
        var paused = await Assert.ThrowsAsync<FiberSupervisorException>(async () => await _manager.SubmitAsync(fiberId, "b"));
        Assert.Equal(FiberErrorCode.Paused, paused.Code);

        Assert.Equal(1, Gauge(Names.Fibers, Names.StatusTag, "paused"));
        Assert.Equal(0, Gauge(Names.Fibers, Names.StatusTag, "running"));
        Assert.Equal(1, Gauge(Names.PermitsInUse));
        Assert.Equal(new FiberSupervisorOptions().MaxConcurrentFibers, Gauge(Names.PermitsLimit)); // the supervisor runs on the defaults
        Assert.Equal(0, Gauge(Names.PermitsWaiting));

        await _manager.InterruptAsync(fiberId).WaitAsync(s_timeout);

        Assert.Equal(1, Sum(Names.Submits, Names.ResultTag, "accepted"));
        Assert.Equal(1, Sum(Names.Submits, Names.ResultTag, "duplicate"));
        Assert.Equal(1, Sum(Names.Submits, Names.ResultTag, "rejected"));
        Assert.Equal(1, Assert.Single(_metrics.For(Names.InputQueueDepth)).HistogramCount);
        Assert.Equal(1, Sum(Names.OutputsPublished));
        var termination = Assert.Single(_metrics.For(Names.Terminations));
        Assert.Equal("interrupted", termination.Tag(Names.ExitTag));
        Assert.Equal("false", termination.Tag(Names.AbandonedTag));
        Assert.Equal(1, termination.Value);

        foreach (var measurement in _metrics.All())
        {
            if (measurement.Metric.Name != Names.Fibers && measurement.Metric.Name is not (Names.PermitsInUse or Names.PermitsLimit or Names.PermitsWaiting))
            {
                Assert.Equal("echo-test", measurement.Tag(Names.WorkflowTag));
            }

            Assert.DoesNotContain(measurement.Tags.Values, v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!.Contains(fiberId, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task FailingWorkflow_CountsRestartsAndFailedExit()
    {
        var failing = Workflow.Create<string, string>(async ctx =>
        {
            await ctx.Input.WaitToReadAsync(ctx.CancellationToken);
            throw new InvalidOperationException("boom");
        });
        await _manager.StartAsync(
            "failing-1",
            "failing",
            failing,
            new StartOptions { Restart = new RestartPolicy { MaxRestarts = 2, InitialBackoff = TimeSpan.Zero, MaxBackoff = TimeSpan.Zero } }).WaitAsync(s_timeout);
        using var subscription = _manager.Subscribe("failing-1");
        await _manager.SubmitAsync("failing-1", "go");
        await ReadUntilAsync(subscription, e => e.Kind == FiberEventKind.Terminated);

        Assert.Equal(2, Sum(Names.Restarts));
        var termination = Assert.Single(_metrics.For(Names.Terminations));
        Assert.Equal(1, termination.Value);
        Assert.Equal("failed", termination.Tag(Names.ExitTag));
        Assert.Equal("failing", termination.Tag(Names.WorkflowTag));
    }

    [Fact]
    public async Task SlowSubscriber_GapDelivered_IsCounted()
    {
        var burst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var workflow = Workflow.Create<string, string>(async ctx =>
        {
            await foreach (var item in ctx.Input.ReadAllAsync(ctx.CancellationToken))
            {
                for (var i = 0; i < 10; i++)
                {
                    ctx.Publish(item);
                }

                burst.TrySetResult();
            }
        });
        await _manager.StartAsync("bursty-1", "bursty", workflow).WaitAsync(s_timeout);
        using var subscription = _manager.Subscribe("bursty-1");
        await _manager.SubmitAsync("bursty-1", "x");
        await burst.Task.WaitAsync(s_timeout);

        await ReadUntilAsync(subscription, e => e.Kind == FiberEventKind.Gap);

        var gap = Assert.Single(_metrics.For(Names.Gaps));
        Assert.Equal("bursty", gap.Tag(Names.WorkflowTag));
        Assert.Equal(1, gap.Value);
    }

    private static async Task ReadUntilAsync(FiberSubscription<string> subscription, Func<FiberEvent<string>, bool> match)
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        await foreach (var fiberEvent in subscription.ReadAllAsync(timeout.Token))
        {
            if (match(fiberEvent))
            {
                return;
            }
        }

        Assert.Fail("The subscription ended before the expected event.");
    }

    private double Sum(string instrument, string? tag = null, string? value = null) =>
        _metrics.For(instrument).Where(m => tag is null || m.Tag(tag) == value).Sum(m => m.Value);

    /// <summary>The value an observable gauge has in a collection made now.</summary>
    private double Gauge(string instrument, string? tag = null, string? value = null) =>
        _metrics.For(instrument).Last(m => tag is null || m.Tag(tag) == value).Value;
}
