namespace FiberManager.Perf.Tests;

/// <summary>perf/grpc-load.sh --smoke: G1 (service, raw Kestrel, Node grpc-js), G2 and G3 run tiny and report.</summary>
public class GrpcLoadSmokeTests
{
    [Fact]
    public async Task GrpcLoadSmoke_G1G2G3PrintValidJsonLines_GrpcStatusOk_ExitsZero()
    {
        var (exitCode, stdout, stderr) = await ScriptRunner.RunAsync("perf/grpc-load.sh", TimeSpan.FromMinutes(4), "--smoke", "--no-build");

        Assert.True(exitCode == 0, $"grpc-load.sh --smoke exited {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        var lines = ScriptRunner.JsonLines(stdout).ToDictionary(l => l.GetProperty("name").GetString()!);
        foreach (var name in new[] { "g1.service", "g1.raw-kestrel", "g1.node-grpc-js", "g1.service.half-load", "g1.raw-kestrel.half-load" })
        {
            var line = lines[name];
            Assert.True(line.GetProperty("ops_per_sec").GetDouble() > 0, name);
            Assert.Equal(line.GetProperty("n").GetInt64(), line.GetProperty("succeeded").GetInt64());
            Assert.True(line.GetProperty("grpc_status").GetBoolean(), name);
            Assert.True(line.GetProperty("p99_us").GetDouble() > 0, name);
        }

        Assert.True(lines["g2"].GetProperty("ok").GetBoolean(), lines["g2"].ToString());
        Assert.True(lines["g2"].GetProperty("events_received").GetInt64() > 0);
        Assert.True(lines["g3"].GetProperty("ok").GetBoolean(), lines["g3"].ToString());
        Assert.True(lines["g3"].GetProperty("rss_end_mb").GetDouble() > 0);
    }
}
