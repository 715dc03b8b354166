using System.Diagnostics;
using FiberManager.Client;
using FiberManager.Protocol.V1;
using Grpc.Core;

namespace FiberManager.LoadClient;

/// <summary>
/// G3 Start/Interrupt churn: C workers each loop Start(echo) + Interrupt on fresh ids until P
/// pairs are done; pairs/s, and the service's RSS (from /proc/PID/status) at 10 % steps.
/// </summary>
internal static class G3
{
    public static async Task<int> RunAsync(Uri url, int pairs, int concurrency, int pid)
    {
        using var client = new FiberManagerClient(url);
        var runId = Stopwatch.GetTimestamp().ToString(System.Globalization.CultureInfo.InvariantCulture)[^6..];
        var rss = new List<long> { Commands.ReadRssBytes(pid) };
        var step = Math.Max(1, pairs / 10);
        var next = -1;
        var done = 0;
        var failures = 0;
        var gate = new Lock();
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < pairs)
            {
                var id = $"g3-{runId}-{i}";
                try
                {
                    await client.StartAsync(id, "echo").ConfigureAwait(false);
                    var final = await client.InterruptAsync(id).ConfigureAwait(false);
                    if (final.Status != FiberStatus.Interrupted)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (RpcException)
                {
                    Interlocked.Increment(ref failures);
                }

                if (Interlocked.Increment(ref done) % step == 0)
                {
                    var sample = Commands.ReadRssBytes(pid);
                    lock (gate)
                    {
                        rss.Add(sample);
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).ConfigureAwait(false);
        watch.Stop();

        long[] samples;
        lock (gate)
        {
            samples = [.. rss];
        }

        var mid = samples[Math.Min(samples.Length - 1, samples.Length / 2)];
        var end = samples[^1];
        var growth = mid > 0 ? (double)(end - mid) / mid : 0;
        Console.WriteLine(new Json()
            .Add("name", "g3")
            .Add("n", pairs)
            .Add("seconds", Math.Round(watch.Elapsed.TotalSeconds, 3))
            .Add("ops_per_sec", Math.Round(pairs / watch.Elapsed.TotalSeconds, 1))
            .Add("concurrency", concurrency)
            .Add("failures", failures)
            .Add("rss_start_mb", Mb(samples[0]))
            .Add("rss_mid_mb", Mb(mid))
            .Add("rss_end_mb", Mb(end))
            .Add("rss_max_mb", Mb(samples.Max()))
            .Add("rss_growth_second_half", Math.Round(growth, 3))
            .Add("rss_samples_mb", "[" + string.Join(" ", samples.Select(Mb)) + "]")
            .Add("ok", failures == 0));
        return failures == 0 ? 0 : 1;
    }

    private static double Mb(long bytes) => Math.Round(bytes / (1024.0 * 1024.0), 1);
}
