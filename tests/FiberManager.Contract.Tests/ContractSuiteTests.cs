using System.Globalization;
using FiberManager.Contract.Tests.TestSupport;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace FiberManager.Contract.Tests;

/// <summary>
/// Runs the polyglot contract suites in <c>tests/contract</c> — real third-party gRPC stacks —
/// each as a child process against its own instance of the real service binary, and asserts
/// that the suite exits with 0. A failure message carries the suite's output and the service's.
/// </summary>
public sealed class ContractSuiteTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_suiteTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan s_shutdownTimeout = TimeSpan.FromSeconds(60);

    private static string Python => Environment.GetEnvironmentVariable("FM_PYTHON") is { Length: > 0 } python ? python : "/usr/bin/python3";

    [Fact]
    public async Task PythonGrpcio_ContractSuite_Passes()
    {
        await using var service = await ServiceProcess.StartAsync();
        await RunSuiteAsync(service, Python, ["tests/contract/python/test_contract.py"]);
    }

    [Fact]
    public async Task PythonGrpcio_SigtermWhileStreaming_NotServingThenCleanEnd()
    {
        await using var service = await ServiceProcess.StartAsync();
        await RunSuiteAsync(
            service,
            Python,
            ["tests/contract/python/test_shutdown.py"],
            new Dictionary<string, string?> { ["FM_SERVER_PID"] = service.Process.Id.ToString(CultureInfo.InvariantCulture) });

        Assert.True(await service.Process.WaitForExitAsync(s_shutdownTimeout), $"The service did not stop within {s_shutdownTimeout.TotalSeconds} s of SIGTERM:\n{service.Process.Output}");
        Assert.True(service.Process.ExitCode == 0, $"The service exited with {service.Process.ExitCode} after SIGTERM:\n{service.Process.Output}");
    }

    [Fact]
    public async Task NodeGrpcJs_ContractSuite_Passes()
    {
        await using var service = await ServiceProcess.StartAsync();
        await RunSuiteAsync(service, "node", ["--test", "tests/contract/node/"]);
    }

    [Fact]
    public async Task BufCurl_ReflectionOnlySmoke_Passes()
    {
        await using var service = await ServiceProcess.StartAsync();
        await RunSuiteAsync(service, "bash", ["tests/contract/buf/smoke.sh"]);
    }

    private async Task RunSuiteAsync(ServiceProcess service, string fileName, string[] arguments, Dictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>
        {
            ["FM_TARGET"] = service.Target,
            ["FM_URL"] = service.Url,
            ["FM_MAX_CONCURRENT_FIBERS"] = ServiceProcess.MaxConcurrentFibers.ToString(CultureInfo.InvariantCulture),
            ["PYTHONDONTWRITEBYTECODE"] = "1",
            ["NO_COLOR"] = "1",
        };
        foreach (var (key, value) in environment ?? [])
        {
            variables[key] = value;
        }

        var command = $"{fileName} {string.Join(' ', arguments)}";
        var started = DateTime.UtcNow;
        await using var suite = ChildProcess.Start(fileName, arguments, RepositoryRoot.Path, variables);
        var exited = await suite.WaitForExitAsync(s_suiteTimeout);
        var elapsed = DateTime.UtcNow - started;
        output.WriteLine($"$ {command}   ({elapsed.TotalSeconds:F1} s, against {service.Url})");
        output.WriteLine(suite.Output);

        Assert.True(exited, $"{command} did not finish within {s_suiteTimeout.TotalMinutes} min.\n{Report(suite, service)}");
        Assert.True(suite.ExitCode == 0, $"{command} exited with {suite.ExitCode}.\n{Report(suite, service)}");
    }

    private static string Report(ChildProcess suite, ServiceProcess service) =>
        $"--- suite output ---\n{suite.Output}\n--- service output ---\n{Tail(service.Process.Output, 20_000)}";

    private static string Tail(string text, int chars) => text.Length <= chars ? text : "…" + text[^chars..];
}
