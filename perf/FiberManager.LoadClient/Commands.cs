using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using FiberManager.Client;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.LoadClient;

internal static class Commands
{
    /// <summary>Writes a framed SubmitRequest (json string payload) for h2load's -d.</summary>
    public static int Body(string fiberId, string path)
    {
        var request = new SubmitRequest { FiberId = fiberId, Input = new Payload { Json = Value.ForString("hello") } };
        var message = request.ToByteArray();
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)message.Length);
        message.CopyTo(frame.AsSpan(5));
        File.WriteAllBytes(path, frame);
        return 0;
    }

    public static async Task<int> StartAsync(Uri url, string fiberId, int inputCapacity)
    {
        using var client = new FiberManagerClient(url);
        await client.StartAsync(new StartRequest { FiberId = fiberId, Workflow = "echo", ConflictPolicy = ConflictPolicy.UseExisting, InputCapacity = (uint)inputCapacity }).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Prints a loopback port that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        Console.WriteLine(((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
        return 0;
    }

    /// <summary>
    /// h2load's summary (its stdout: "finished in 1.2s, 160000.00 req/s", "requests: ... succeeded, ... failed")
    /// and its --log-file (tab-separated: start µs, status, µs until the end of the response) as one JSON line.
    /// </summary>
    public static int H2Log(string path, string? summaryPath, string name)
    {
        double seconds = 0, rps = 0;
        long total = 0, succeeded = 0, failed = 0, errored = 0;
        if (summaryPath is not null)
        {
            foreach (var line in File.ReadLines(summaryPath))
            {
                var finished = System.Text.RegularExpressions.Regex.Match(line, @"^finished in ([\d.]+)(m?s), ([\d.]+) req/s");
                if (finished.Success)
                {
                    seconds = double.Parse(finished.Groups[1].Value, CultureInfo.InvariantCulture) / (finished.Groups[2].Value == "ms" ? 1000 : 1);
                    rps = double.Parse(finished.Groups[3].Value, CultureInfo.InvariantCulture);
                }

                var requests = System.Text.RegularExpressions.Regex.Match(line, @"^requests: (\d+) total, .* (\d+) succeeded, (\d+) failed, (\d+) errored");
                if (requests.Success)
                {
                    total = long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture);
                    succeeded = long.Parse(requests.Groups[2].Value, CultureInfo.InvariantCulture);
                    failed = long.Parse(requests.Groups[3].Value, CultureInfo.InvariantCulture);
                    errored = long.Parse(requests.Groups[4].Value, CultureInfo.InvariantCulture);
                }
            }
        }

        var latencies = new List<long>();
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            var columns = line.Split('\t');
            if (columns.Length < 3 || !long.TryParse(columns[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var micros))
            {
                continue;
            }

            latencies.Add(micros);
            statuses[columns[1]] = statuses.GetValueOrDefault(columns[1]) + 1;
        }

        latencies.Sort();
        var json = new Json()
            .Add("name", name)
            .Add("n", total)
            .Add("seconds", seconds)
            .Add("ops_per_sec", rps)
            .Add("succeeded", succeeded)
            .Add("failed", failed + errored)
            .Add("requests_logged", latencies.Count)
            .Add("p50_us", Percentile(latencies, 50))
            .Add("p90_us", Percentile(latencies, 90))
            .Add("p99_us", Percentile(latencies, 99))
            .Add("max_us", Percentile(latencies, 100))
            .Add("http_200", statuses.GetValueOrDefault("200"))
            .Add("ok", total > 0 && succeeded == total);
        Console.WriteLine(json);
        return 0;
    }

    public static long Percentile(List<long> sorted, double percentile)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var rank = Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1);
        return sorted[rank];
    }

    public static long ReadRssBytes(int pid)
    {
        if (pid <= 0)
        {
            return 0;
        }

        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}

/// <summary>A one-line JSON object with fields in insertion order.</summary>
internal sealed class Json
{
    private readonly List<string> _fields = [];

    public Json Add(string key, object value)
    {
        var text = value switch
        {
            string s => System.Text.Json.JsonSerializer.Serialize(s),
            bool b => b ? "true" : "false",
            double[] a => "[" + string.Join(",", a.Select(d => d.ToString("0.###", CultureInfo.InvariantCulture))) + "]",
            double d => d.ToString("0.###", CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => System.Text.Json.JsonSerializer.Serialize(value.ToString()),
        };
        _fields.Add($"\"{key}\":{text}");
        return this;
    }

    public override string ToString() => "{" + string.Join(",", _fields) + "}";
}
