using System.Text.Json;

namespace FiberManager.Perf.Tests;

/// <summary>perf/run-all.sh --smoke: every W1-W4 workload and its bare twin run (tiny sizes) and report.</summary>
public class WorkloadSmokeTests
{
    private static readonly string[] s_expected =
    [
        "w1.set", "w1.set.bare", "w1.forkjoin", "w1.forkjoin.bare", "w2", "w2.bare", "w2.teardown", "w2.teardown.bare",
        "w3", "w3.bare", "w3.pingpong", "w3.pingpong.bare", "w4", "w4.bare", "w4.bare.exception",
    ];

    [Fact]
    public async Task RunAllSmoke_EveryWorkloadPrintsOneValidJsonLine_ExitsZero()
    {
        var (exitCode, stdout, stderr) = await ScriptRunner.RunAsync("perf/run-all.sh", TimeSpan.FromMinutes(4), "--smoke", "--no-build");

        Assert.True(exitCode == 0, $"run-all.sh --smoke exited {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var lines = ScriptRunner.JsonLines(stdout);
        Assert.Equal(s_expected, lines.Select(l => l.GetProperty("name").GetString()));
        foreach (var line in lines)
        {
            Assert.True(line.GetProperty("n").GetInt64() > 0);
            Assert.True(line.GetProperty("seconds").GetDouble() > 0);
            Assert.True(line.GetProperty("ops_per_sec").GetDouble() > 0);
            Assert.True(line.GetProperty("ok").GetBoolean(), line.ToString());
        }

        var byName = lines.ToDictionary(l => l.GetProperty("name").GetString()!);
        Assert.True(byName["w2"].GetProperty("heap_bytes_per_fiber").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Number, byName["w2"].GetProperty("rss_bytes_per_fiber").ValueKind);
        Assert.True(byName["w3.pingpong"].GetProperty("p50_us").GetDouble() > 0);
        Assert.True(byName["w3"].GetProperty("p99_us").GetDouble() > 0);

        var markdown = await File.ReadAllTextAsync(Path.Combine(ScriptRunner.RepositoryRoot, "perf/results/tmp/smoke.md"));
        Assert.Contains("| W1.forkjoin | fibers/s", markdown, StringComparison.Ordinal);
    }
}
