using System.Globalization;
using System.Text;
using System.Text.Json;

namespace FiberManager.LoadClient;

/// <summary>The markdown table of a perf/grpc-load.sh run: absolute figures and same-run ratios.</summary>
internal static class GrpcReport
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static int Render(string path, string? command)
    {
        var rows = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith('{'))
            {
                var row = JsonDocument.Parse(line).RootElement;
                rows[row.GetProperty("name").GetString()!] = row;
            }
        }

        var md = new StringBuilder();
        md.AppendLine(s_inv, $"Date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}  ");
        md.AppendLine(s_inv, $"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}  ");
        if (command is not null)
        {
            md.AppendLine(s_inv, $"Command: `{command}`  ");
        }

        md.AppendLine();
        md.AppendLine("| G1 unary Submit (h2load) | req/s | p50 µs | p90 µs | p99 µs | succeeded | grpc-status 0 |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var name in new[] { "g1.service", "g1.service.default-capacity", "g1.raw-kestrel", "g1.node-grpc-js", "g1.service.half-load", "g1.raw-kestrel.half-load" })
        {
            if (rows.TryGetValue(name, out var row))
            {
                md.AppendLine(s_inv, $"| {name} | {Num(row, "ops_per_sec", "N0")} | {Num(row, "p50_us", "N0")} | {Num(row, "p90_us", "N0")} | {Num(row, "p99_us", "N0")} | {Num(row, "succeeded", "N0")}/{Num(row, "n", "N0")} | {Text(row, "grpc_status")} |");
            }
        }

        md.AppendLine();
        var service = Value(rows, "g1.service", "ops_per_sec");
        var serviceDefault = Value(rows, "g1.service.default-capacity", "ops_per_sec");
        var raw = Value(rows, "g1.raw-kestrel", "ops_per_sec");
        var node = Value(rows, "g1.node-grpc-js", "ops_per_sec");
        var halfP99 = Value(rows, "g1.service.half-load", "p99_us");
        var rawHalfP99 = Value(rows, "g1.raw-kestrel.half-load", "p99_us");
        md.AppendLine("| G1 ratio (same run) | value | goal | met |");
        md.AppendLine("|---|---:|---|---|");
        md.AppendLine(s_inv, $"| service / raw Kestrel | {Ratio(service, raw)} | ≥ 0.70 | {Met(service is { } a && raw is { } b && a >= 0.7 * b)} |");
        md.AppendLine(s_inv, $"| service / Node grpc-js | {Ratio(service, node)} | ≥ 5 | {Met(service is { } c && node is { } d && c >= 5 * d)} |");
        md.AppendLine(s_inv, $"| service (input capacity 64, Submits wait for room) / raw Kestrel | {Ratio(serviceDefault, raw)} | — | |");
        md.AppendLine(s_inv, $"| service p99 at half load (ms) | {(halfP99 is { } p ? (p / 1000).ToString("0.00", s_inv) : "—")} | ≤ 5 ms | {Met(halfP99 is { } q && q <= 5_000)} |");
        md.AppendLine(s_inv, $"| raw Kestrel p99 at the same rate (ms) | {(rawHalfP99 is { } r ? (r / 1000).ToString("0.00", s_inv) : "—")} | — | |");

        if (rows.TryGetValue("g2", out var g2))
        {
            md.AppendLine();
            md.AppendLine("| G2 Subscribe fan-out | events/s | streams | connections | received | lost to gaps | p50 µs | p99 µs |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            md.AppendLine(s_inv, $"| g2 | {Num(g2, "ops_per_sec", "N0")} | {Num(g2, "streams", "N0")} | {Num(g2, "connections", "N0")} | {Num(g2, "events_received", "N0")}/{Num(g2, "n", "N0")} | {Num(g2, "events_lost_to_gaps", "N0")} | {Num(g2, "p50_us", "N0")} | {Num(g2, "p99_us", "N0")} |");
        }

        if (rows.TryGetValue("g3", out var g3))
        {
            md.AppendLine();
            md.AppendLine("| G3 Start+Interrupt churn | pairs | pairs/s | RSS start MB | RSS mid MB | RSS end MB | growth, 2nd half | RSS every 10 % (MB) |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
            md.AppendLine(s_inv, $"| g3 | {Num(g3, "n", "N0")} | {Num(g3, "ops_per_sec", "N0")} | {Num(g3, "rss_start_mb", "0")} | {Num(g3, "rss_mid_mb", "0")} | {Num(g3, "rss_end_mb", "0")} | {Num(g3, "rss_growth_second_half", "0.0%")} | {Text(g3, "rss_samples_mb")} |");
        }

        Console.Write(md.ToString());
        return 0;
    }

    private static double? Value(Dictionary<string, JsonElement> rows, string name, string field) =>
        rows.TryGetValue(name, out var row) && row.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string Num(JsonElement row, string field, string format) =>
        row.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString(format, s_inv) : "—";

    private static string Text(JsonElement row, string field) =>
        row.TryGetProperty(field, out var v) ? v.ToString() : "—";

    private static string Ratio(double? a, double? b) => a is { } x && b is { } y && y != 0 ? (x / y).ToString("0.00", s_inv) : "—";

    private static string Met(bool met) => met ? "yes" : "**no**";
}
