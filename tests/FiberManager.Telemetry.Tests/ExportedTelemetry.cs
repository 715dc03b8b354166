using System.Collections;
using System.Diagnostics;
using System.Globalization;
using OpenTelemetry.Metrics;

// The service's ActivitySource and Meter are static, and OpenTelemetry providers listen to
// sources and meters by name, process-wide: tests that listen run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace FiberManager.Telemetry.Tests;

/// <summary>
/// The collection OpenTelemetry's in-memory exporter (OpenTelemetry.Exporter.InMemory) adds what it
/// exports to, thread-safe, with a bounded wait for an item: an exporter adds on whatever thread
/// exports (a span is exported when ASP.NET Core stops it, which may be after the client has its
/// response).
/// </summary>
public sealed class ExportedItems<T> : ICollection<T>
    where T : class
{
    private readonly Lock _lock = new();
    private readonly List<T> _items = [];
    private readonly List<(Func<T, bool> Match, TaskCompletionSource<T> Done)> _waiters = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    public bool IsReadOnly => false;

    /// <summary>A copy of what was exported so far.</summary>
    public IReadOnlyList<T> Snapshot()
    {
        lock (_lock)
        {
            return [.. _items];
        }
    }

    /// <summary>The first exported item matching <paramref name="match"/>, already exported or exported within the timeout.</summary>
    public Task<T> WaitForAsync(Func<T, bool> match)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_items.FirstOrDefault(match) is { } found)
            {
                return Task.FromResult(found);
            }

            _waiters.Add((match, done));
        }

        return done.Task.DefaultTimeout();
    }

    public void Add(T item)
    {
        List<TaskCompletionSource<T>> matched = [];
        lock (_lock)
        {
            _items.Add(item);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(item))
                {
                    matched.Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        // Waiters are woken outside the lock.
        foreach (var done in matched)
        {
            done.TrySetResult(item);
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _items.Clear();
        }
    }

    public bool Contains(T item)
    {
        lock (_lock)
        {
            return _items.Contains(item);
        }
    }

    public void CopyTo(T[] array, int arrayIndex)
    {
        lock (_lock)
        {
            _items.CopyTo(array, arrayIndex);
        }
    }

    public bool Remove(T item)
    {
        lock (_lock)
        {
            return _items.Remove(item);
        }
    }

    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>One exported metric point: its metric, its tags, and its value (the sum of a sum or a histogram, the last value of a gauge).</summary>
public sealed record ExportedPoint(MetricSnapshot Metric, IReadOnlyDictionary<string, object?> Tags, double Value, long HistogramCount)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? Convert.ToString(value, CultureInfo.InvariantCulture) : null;
}

/// <summary>
/// Metrics through OpenTelemetry's in-memory exporter, read on demand: <see cref="For"/> makes the
/// provider collect (what its periodic reader would do) and returns the points of the latest export.
/// </summary>
public sealed class ExportedMetrics
{
    private readonly Func<MeterProvider> _provider;

    /// <param name="provider">The meter provider whose in-memory exporter writes to <see cref="Items"/> (resolved when first needed).</param>
    public ExportedMetrics(Func<MeterProvider> provider) => _provider = provider;

    /// <summary>Where the in-memory exporter writes: pass to <c>AddInMemoryExporter</c> with <see cref="ReadOnDemand"/>.</summary>
    public ExportedItems<MetricSnapshot> Items { get; } = new();

    /// <summary>Reader options for the in-memory exporter: no periodic export, only the collections <see cref="Collect"/> asks for.</summary>
    public static void ReadOnDemand(MetricReaderOptions options) =>
        options.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = Timeout.Infinite;

    /// <summary>Collects and exports every metric now (observable instruments are observed).</summary>
    public void Collect() => Assert.True(_provider().ForceFlush((int)TestTimeouts.Default.TotalMilliseconds), "the meter provider did not collect in time");

    /// <summary>Collects, then returns the points of <paramref name="name"/> as just exported (none when it has no measurement yet).</summary>
    public IReadOnlyList<ExportedPoint> For(string name)
    {
        Collect();
        return Points(Items.Snapshot().LastOrDefault(m => m.Name == name));
    }

    /// <summary>Collects, then returns the points of every metric of the latest export.</summary>
    public IReadOnlyList<ExportedPoint> All()
    {
        Collect();
        var latest = new Dictionary<string, MetricSnapshot>(StringComparer.Ordinal);
        foreach (var metric in Items.Snapshot())
        {
            latest[metric.Name] = metric;
        }

        return [.. latest.Values.SelectMany(Points)];
    }

    private static IReadOnlyList<ExportedPoint> Points(MetricSnapshot? metric)
    {
        if (metric is null)
        {
            return [];
        }

        var points = new List<ExportedPoint>();
        foreach (var point in metric.MetricPoints)
        {
            var tags = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var tag in point.Tags)
            {
                tags[tag.Key] = tag.Value;
            }

            var (value, count) = metric.MetricType switch
            {
                MetricType.LongSum or MetricType.LongSumNonMonotonic => (point.GetSumLong(), 0L),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => (point.GetSumDouble(), 0L),
                MetricType.LongGauge => (point.GetGaugeLastValueLong(), 0L),
                MetricType.DoubleGauge => (point.GetGaugeLastValueDouble(), 0L),
                MetricType.Histogram => (point.GetHistogramSum(), point.GetHistogramCount()),
                _ => throw new NotSupportedException($"{metric.Name}: {metric.MetricType}"),
            };
            points.Add(new ExportedPoint(metric, tags, value, count));
        }

        return points;
    }
}
