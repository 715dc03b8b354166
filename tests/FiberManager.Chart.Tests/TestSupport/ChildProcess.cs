using System.Diagnostics;
using System.Text;

namespace FiberManager.Chart.Tests.TestSupport;

/// <summary>The outcome of a finished child process.</summary>
internal sealed record ProcessResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Everything a failure message needs: the command, its exit code and its output.</summary>
    public string Describe() =>
        $"`{CommandLine}` exited with {ExitCode}.\n--- stdout ---\n{StandardOutput.TrimEnd()}\n--- stderr ---\n{StandardError.TrimEnd()}";
}

/// <summary>Runs a tool as a bounded child process: output captured, killed (with its children) at the timeout.</summary>
internal static class ChildProcess
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(45);

    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        string commandLine = string.Join(' ', startInfo.ArgumentList.Prepend(fileName).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a));
        if (!File.Exists(fileName) && fileName.Contains('/', StringComparison.Ordinal))
        {
            throw new FileNotFoundException($"{fileName} is missing: run `bash scripts/prerequisites.sh` (npm ci, apt yamllint python3-kubernetes). Command: {commandLine}");
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {commandLine}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? DefaultTimeout;
        try
        {
            await process.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            string partialOut = await stdout.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            string partialErr = await stderr.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            throw new TimeoutException($"`{commandLine}` did not finish within {limit.TotalSeconds} s and was killed.\n--- stdout ---\n{partialOut}\n--- stderr ---\n{partialErr}");
        }

        return new ProcessResult(commandLine, process.ExitCode, await stdout.WaitAsync(TimeSpan.FromSeconds(10)), await stderr.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
