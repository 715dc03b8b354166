using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json;

namespace FiberManager.Workloads;

/// <summary>What one workload run reports: one JSON line, fields in a fixed order.</summary>
internal sealed class WorkloadResult
{
    private readonly List<KeyValuePair<string, object>> _fields = [];
    private readonly List<KeyValuePair<string, bool>> _checks = [];

    public WorkloadResult(string name, long n, double seconds)
    {
        Add("name", name);
        Add("n", n);
        Add("seconds", Math.Round(seconds, 6));
        Add("ops_per_sec", seconds > 0 ? Math.Round(n / seconds, 1) : 0.0);
    }

    public bool AllChecksPassed => _checks.TrueForAll(c => c.Value);

    public WorkloadResult Add(string key, object value)
    {
        _fields.Add(new(key, value));
        return this;
    }

    public WorkloadResult Check(string key, bool passed)
    {
        _checks.Add(new(key, passed));
        return this;
    }

    /// <summary>Allocation and GC figures of the timed section.</summary>
    public WorkloadResult AddAllocations(Allocations allocations, long n)
    {
        Add("alloc_bytes_per_op", n > 0 ? Math.Round((double)allocations.Bytes / n, 1) : 0.0);
        Add("gc_gen0", allocations.Gen0);
        Add("gc_gen1", allocations.Gen1);
        Add("gc_gen2", allocations.Gen2);
        Add("cpu_seconds", Math.Round(allocations.Cpu.TotalSeconds, 4));
        Add("gc_pause_seconds", Math.Round(allocations.GcPause.TotalSeconds, 4));
        return this;
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            foreach (var (key, value) in _fields)
            {
                Write(json, key, value);
            }

            json.WriteStartObject("checks");
            foreach (var (key, passed) in _checks)
            {
                json.WriteBoolean(key, passed);
            }

            json.WriteEndObject();
            json.WriteBoolean("ok", AllChecksPassed);
            json.WriteString("gc_mode", GCSettings.IsServerGC ? "server" : "workstation");
            json.WriteNumber("processors", Environment.ProcessorCount);
            json.WriteString("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Write(Utf8JsonWriter json, string key, object value)
    {
        switch (value)
        {
            case string s:
                json.WriteString(key, s);
                break;
            case bool b:
                json.WriteBoolean(key, b);
                break;
            case int i:
                json.WriteNumber(key, i);
                break;
            case long l:
                json.WriteNumber(key, l);
                break;
            case double d:
                json.WriteNumber(key, double.IsFinite(d) ? d : 0);
                break;
            default:
                json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }
}

/// <summary>
/// Bytes allocated (all threads), GC counts, the process's CPU time and the GC pause time between two
/// points. CPU time is the figure to compare on a loaded machine, where wall-clock time also measures
/// how long the process waited for a core.
/// </summary>
internal readonly record struct Allocations(long Bytes, int Gen0, int Gen1, int Gen2, TimeSpan Cpu, TimeSpan GcPause)
{
    public static Allocations Now()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return new(
            GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            process.TotalProcessorTime, GC.GetTotalPauseDuration());
    }

    public Allocations Since()
    {
        var now = Now();
        return new(now.Bytes - Bytes, now.Gen0 - Gen0, now.Gen1 - Gen1, now.Gen2 - Gen2, now.Cpu - Cpu, now.GcPause - GcPause);
    }
}

/// <summary>Measurement helpers shared by the workloads.</summary>
internal static class Measure
{
    /// <summary>Forced, blocking, compacting full GCs (LOH included), then the live heap size.</summary>
    public static long CompactedHeapBytes()
    {
        for (var i = 0; i < 3; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>The process's resident set (working set) in bytes.</summary>
    public static long WorkingSetBytes()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    /// <summary>The percentile (0..100) of Stopwatch tick samples, in microseconds.</summary>
    public static double PercentileMicros(long[] sortedTicks, double percentile)
    {
        if (sortedTicks.Length == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(percentile / 100.0 * sortedTicks.Length) - 1;
        rank = Math.Clamp(rank, 0, sortedTicks.Length - 1);
        return Math.Round(sortedTicks[rank] * 1_000_000.0 / Stopwatch.Frequency, 2);
    }

    /// <summary>Adds p50/p90/p99/max (µs) of <paramref name="samples"/> (Stopwatch ticks) to <paramref name="result"/>.</summary>
    public static WorkloadResult AddLatency(this WorkloadResult result, long[] samples)
    {
        // Samples never taken (an input lost to a gap) are 0 and left out.
        var ticks = samples.Where(t => t > 0).ToArray();
        Array.Sort(ticks);
        result.Add("latency_samples", ticks.Length);
        result.Add("p50_us", PercentileMicros(ticks, 50));
        result.Add("p90_us", PercentileMicros(ticks, 90));
        result.Add("p99_us", PercentileMicros(ticks, 99));
        result.Add("max_us", PercentileMicros(ticks, 100));
        return result;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds or <paramref name="timeout"/> passes.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(2).ConfigureAwait(false);
        }

        return true;
    }
}
