using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace FiberManager.Workloads;

/// <summary>
/// Renders a results JSONL file as the markdown table of docs/benchmarks.md: absolute figures,
/// FiberManager / bare .NET measured in the same invocation, and FiberManager against the
/// Effect-TS reference numbers of BENCHMARKS.md.
/// </summary>
internal static class Report
{
    private static readonly CultureInfo s_inv = CultureInfo.InvariantCulture;

    public static string Render(IEnumerable<string> lines, string? command)
    {
        var rows = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines)
        {
            if (line.TrimStart().StartsWith('{'))
            {
                var element = JsonDocument.Parse(line).RootElement;
                rows[element.GetProperty("name").GetString()!] = element;
            }
        }

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"Date (UTC): {DateTime.UtcNow:yyyy-MM-dd HH:mm}  ");
        md.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Machine()}  ");
        md.AppendLine(CultureInfo.InvariantCulture, $"Runtime: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, default GC settings (workstation, concurrent), Release  ");
        if (command is not null)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`  ");
        }

        if (rows.Values.Any(r => r.TryGetProperty("smoke", out _)) || rows.TryGetValue("w1.set", out var w1) && w1.GetProperty("n").GetInt64() < 100_000)
        {
            md.AppendLine("**SMOKE RUN: tiny sizes, the figures mean nothing.**  ");
        }

        md.AppendLine();
        md.AppendLine("FM / bare compares the two variants of one workload run back to back in this invocation (fresh process each).");
        md.AppendLine("\"Idle-machine estimate\" = (FM / bare) × the bare-.NET reference of BENCHMARKS.md: this machine may be busy,");
        md.AppendLine("and the same-run ratio carries over where absolute figures do not. Goals on absolute figures are judged on it (marked est.).");
        md.AppendLine();
        md.AppendLine("| workload | metric | FiberManager | bare .NET (same run) | FM / bare | bare ref (BENCHMARKS.md) | idle-machine estimate | Effect-TS ref | est. FM / Effect | goal | met |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");

        Row(md, rows, "W1.set", "fibers/s ↑", "w1.set", "w1.set.bare", "ops_per_sec", 2_200_000, 200_000,
            "≥ 0.6 × bare, ≥ 10 × Effect", (fm, bare, est) => Judge(fm >= 0.6 * bare && est >= 10 * 200_000, est: true));
        Row(md, rows, "W1.forkjoin", "fibers/s ↑", "w1.forkjoin", "w1.forkjoin.bare", "ops_per_sec", 2_200_000, 80_000,
            "≥ 0.6 × bare, ≥ 10 × Effect", (fm, bare, est) => Judge(fm >= 0.6 * bare && est >= 10 * 80_000, est: true));
        Row(md, rows, "W2 (K idle)", "heap bytes / fiber ↓", "w2", "w2.bare", "heap_bytes_per_fiber", null, 11_000,
            "≤ 2,500 B", (fm, _, _) => Judge(fm <= 2_500, est: false));
        Row(md, rows, "W2 (K idle)", "RSS bytes / fiber ↓", "w2", "w2.bare", "rss_bytes_per_fiber", null, null, "—", null);
        Row(md, rows, "W2 create", "fibers/s ↑", "w2", "w2.bare", "ops_per_sec", 100_000 / 0.55, 100_000 / 6.3,
            "≥ 500k/s", (_, _, est) => Judge(est >= 500_000, est: true));
        Row(md, rows, "W2.teardown", "seconds ↓", "w2.teardown", "w2.teardown.bare", "seconds", null, null, "—", null);
        Row(md, rows, "W3 (F fibers)", "inputs/s ↑", "w3", "w3.bare", "ops_per_sec", 7_000_000, 90_000,
            "≥ 0.5 × bare", (fm, bare, _) => Judge(fm >= 0.5 * bare, est: false));
        Row(md, rows, "W3 (F fibers)", "p50 µs ↓", "w3", "w3.bare", "p50_us", null, null, "—", null);
        Row(md, rows, "W3 (F fibers)", "p99 µs ↓", "w3", "w3.bare", "p99_us", null, null, "—", null);
        Row(md, rows, "W3.pingpong", "p50 µs ↓", "w3.pingpong", "w3.pingpong.bare", "p50_us", 1.3, 23,
            "≤ 5 µs", (fm, _, est) => fm <= 5 ? "yes" : Judge(est <= 5, est: true));
        Row(md, rows, "W3.pingpong", "p99 µs ↓", "w3.pingpong", "w3.pingpong.bare", "p99_us", null, null, "—", null);
        Row(md, rows, "W3.pingpong", "pings/s ↑", "w3.pingpong", "w3.pingpong.bare", "ops_per_sec", null, null, "—", null);
        Row(md, rows, "W4 clear K", "seconds ↓ (vs bare, no exception)", "w4", "w4.bare", "seconds", 0.025, 1.1, "—", null);
        Row(md, rows, "W4 clear K", "seconds ↓ (vs bare, one exception per task)", "w4", "w4.bare.exception", "seconds", 0.3, 1.1,
            "≤ bare with one exception per task", (fm, bare, _) => Judge(fm <= bare, est: false));

        md.AppendLine();
        md.AppendLine("Every run (one fresh process each):");
        md.AppendLine();
        md.AppendLine("| name | n | seconds | ops/s | alloc B/op | gen0/1/2 GCs | extra | checks |");
        md.AppendLine("|---|---:|---:|---:|---:|---|---|---|");
        foreach (var (name, row) in rows)
        {
            var extra = new List<string>();
            foreach (var key in new[] { "fibers", "heap_bytes_per_fiber", "rss_bytes_per_fiber", "p50_us", "p99_us", "outputs_lost_to_gaps", "checksum" })
            {
                if (row.TryGetProperty(key, out var value))
                {
                    extra.Add($"{key}={value.GetRawText()}");
                }
            }

            var checks = row.TryGetProperty("ok", out var ok) && ok.GetBoolean() ? "ok" : "FAILED " + row.GetProperty("checks").GetRawText();
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {row.GetProperty("n").GetInt64():N0} | {Num(row, "seconds", "0.000")} | {Num(row, "ops_per_sec", "N0")} | {Num(row, "alloc_bytes_per_op", "N0")} | {Num(row, "gc_gen0", "0")}/{Num(row, "gc_gen1", "0")}/{Num(row, "gc_gen2", "0")} | {string.Join(", ", extra)} | {checks} |");
        }

        return md.ToString();
    }

    private static void Row(
        StringBuilder md,
        Dictionary<string, JsonElement> rows,
        string workload,
        string metric,
        string fmName,
        string bareName,
        string field,
        double? bareReference,
        double? effect,
        string goal,
        Func<double, double, double, string>? met)
    {
        double? fm = Value(rows, fmName, field);
        double? bare = Value(rows, bareName, field);
        double? ratio = fm is { } a && bare is { } b && b != 0 ? a / b : null;
        double? estimate = ratio is { } r && bareReference is { } reference ? r * reference : fm;
        var effectRatio = estimate is { } c && effect is { } e && e != 0 ? (c / e).ToString(c / e >= 10 ? "0" : "0.00", s_inv) : "—";
        var isMet = met is null || fm is null || bare is null ? "" : met(fm.Value, bare.Value, estimate ?? fm.Value);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| {workload} | {metric} | {Format(fm)} | {Format(bare)} | {(ratio is { } x ? x.ToString("0.00", s_inv) : "—")} | {Format(bareReference)} | {(bareReference is null ? "—" : Format(estimate))} | {Format(effect)} | {effectRatio} | {goal} | {isMet} |");
    }

    private static string Judge(bool met, bool est) => (met ? "yes" : "**no**") + (est ? " (est.)" : string.Empty);

    private static double? Value(Dictionary<string, JsonElement> rows, string name, string field) =>
        rows.TryGetValue(name, out var row) && row.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetDouble()
            : null;

    private static string Num(JsonElement row, string field, string format) =>
        row.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble().ToString(format, s_inv) : "—";

    private static string Format(double? value) => value switch
    {
        null => "—",
        >= 1_000_000 => (value.Value / 1_000_000).ToString("0.00", s_inv) + "M",
        >= 10_000 => (value.Value / 1_000).ToString("0.#", s_inv) + "k",
        >= 100 => value.Value.ToString("N0", s_inv),
        >= 1 => value.Value.ToString("0.##", s_inv),
        _ => value.Value.ToString("0.####", s_inv),
    };

    private static string Machine()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
            // not Linux
        }
        catch (UnauthorizedAccessException)
        {
            // not readable
        }

        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024);
        return string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores ({cpu}), {memory:0} GiB, {RuntimeInformation.OSArchitecture}");
    }
}
