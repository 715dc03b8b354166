namespace FiberManager.Workloads;

/// <summary>The sizes a workload runs with (BENCHMARKS.md sizes by default, tiny with --smoke).</summary>
/// <param name="N">The workload's main size: N (W1), K (W2, W4), M (W3), pings (W3.pingpong).</param>
/// <param name="F">The number of fibers W3 spreads its inputs over.</param>
/// <param name="Smoke">Tiny sizes: the run checks that everything works, its figures mean nothing.</param>
internal sealed record WorkloadSize(int N, int F, bool Smoke);

/// <summary>One runnable workload.</summary>
internal sealed record Workload(string Name, int DefaultN, int SmokeN, Func<WorkloadSize, Task<WorkloadResult>> Run);

/// <summary>Every workload: the FiberManager variant and, next to it, its bare-.NET twin.</summary>
internal static class Catalog
{
    private static readonly Workload[] s_all =
    [
        new("w1.set", 1_000_000, 20_000, W1.SetAsync),
        new("w1.set.bare", 1_000_000, 20_000, W1.SetBareAsync),
        new("w1.forkjoin", 1_000_000, 20_000, W1.ForkJoinAsync),
        new("w1.forkjoin.bare", 1_000_000, 20_000, W1.ForkJoinBareAsync),
        new("w2", 100_000, 2_000, W2.IdleAsync),
        new("w2.bare", 100_000, 2_000, W2.IdleBareAsync),
        new("w2.teardown", 100_000, 2_000, W2.TeardownAsync),
        new("w2.teardown.bare", 100_000, 2_000, W2.TeardownBareAsync),
        new("w3", 1_000_000, 20_000, W3.SubmitAsync),
        new("w3.bare", 1_000_000, 20_000, W3.SubmitBareAsync),
        new("w3.pingpong", 100_000, 2_000, W3.PingPongAsync),
        new("w3.pingpong.bare", 100_000, 2_000, W3.PingPongBareAsync),
        new("w4", 100_000, 2_000, W4.InterruptAsync),
        new("w4.bare", 100_000, 2_000, W4.CancelBareAsync),
        new("w4.bare.exception", 100_000, 2_000, W4.CancelBareWithExceptionAsync),
    ];

    public static IEnumerable<string> Names => s_all.Select(w => w.Name);

    public static bool TryGet(string name, out Workload workload)
    {
        workload = s_all.FirstOrDefault(w => string.Equals(w.Name, name, StringComparison.OrdinalIgnoreCase))!;
        return workload is not null;
    }
}
