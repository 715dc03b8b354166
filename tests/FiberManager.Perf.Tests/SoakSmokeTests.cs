using System.Text.Json;

namespace FiberManager.Perf.Tests;

/// <summary>
/// perf/soak.sh --smoke: a few hundred fibers under load for about 12 s, then SIGTERM with every
/// stream open. The script's own checks decide its exit code; this asserts it and the report.
/// </summary>
public class SoakSmokeTests
{
    [Fact]
    public async Task SoakSmoke_InputsAccountedFor_EveryStreamTerminated_ServiceExitsZeroWithinGrace()
    {
        var (exitCode, stdout, stderr) = await ScriptRunner.RunAsync("perf/soak.sh", TimeSpan.FromMinutes(2), "--smoke", "--no-build");

        Assert.True(exitCode == 0, $"soak.sh --smoke exited {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var line = Assert.Single(ScriptRunner.JsonLines(stdout));
        Assert.Equal("soak", line.GetProperty("name").GetString());
        Assert.True(line.GetProperty("ok").GetBoolean(), line.ToString());
        Assert.Equal(0, line.GetProperty("service_exit_code").GetInt32());

        // Load ran, and every accepted input was seen, reported in a gap (slow subscribers only)
        // or counted as unprocessed by the terminated event.
        var fibers = line.GetProperty("fibers").GetInt32();
        var accepted = line.GetProperty("accepted").GetInt64();
        Assert.True(accepted > 0);
        Assert.True(line.GetProperty("ops_per_sec").GetDouble() > 0);
        Assert.Equal(0, line.GetProperty("unaccounted_fibers").GetInt32());
        Assert.Equal(0, line.GetProperty("order_violations").GetInt32());
        Assert.Equal(0, line.GetProperty("gaps_normal").GetInt32());
        Assert.Equal(0, line.GetProperty("submit_errors_before_sigterm").GetInt32());
        var unknown = line.GetProperty("submits_unknown_after_sigterm").GetInt64();
        var seenOrReported = line.GetProperty("outputs_seen").GetInt64() + line.GetProperty("gap_events").GetInt64() + line.GetProperty("unprocessed").GetInt64();
        Assert.InRange(seenOrReported, accepted, accepted + unknown);

        // SIGTERM with every stream open: one terminated event each, OK, within the grace.
        Assert.Equal(fibers, line.GetProperty("streams_open_at_sigterm").GetInt32());
        Assert.Equal(fibers, line.GetProperty("terminated_events").GetInt32());
        Assert.Equal(fibers, line.GetProperty("streams_ended_ok").GetInt32());
        var grace = line.GetProperty("grace_seconds").GetDouble();
        Assert.InRange(line.GetProperty("exit_seconds").GetDouble(), 0, grace);
        Assert.InRange(line.GetProperty("streams_ended_seconds").GetDouble(), 0, grace);

        // The series behind the flatness checks.
        var rss = line.GetProperty("rss_mb").EnumerateArray().Select(e => e.GetDouble()).ToList();
        var threads = line.GetProperty("threads").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.True(rss.Count >= 6, $"{rss.Count} RSS samples");
        Assert.Equal(rss.Count, threads.Count);
        Assert.All(rss, r => Assert.True(r > 0));
        Assert.All(threads, t => Assert.True(t > 0));
        Assert.True(line.GetProperty("rss_growth").GetDouble() <= line.GetProperty("rss_tolerance").GetDouble());
        Assert.Equal(JsonValueKind.Number, line.GetProperty("threads_last_max").ValueKind);
        Assert.True(line.GetProperty("server_connections").GetInt32() >= line.GetProperty("connections").GetInt32());
    }
}
