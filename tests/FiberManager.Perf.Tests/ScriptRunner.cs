using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace FiberManager.Perf.Tests;

/// <summary>Runs a repository script with a time limit and collects its output.</summary>
internal static class ScriptRunner
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, TimeSpan limit, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true); // only the script we started, and its children
            await process.WaitForExitAsync();
            Assert.Fail($"{script} did not finish within {limit}.\nstderr:\n{stderr}");
        }

        process.WaitForExit(); // flush the redirected streams
        return (process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>The JSON objects among <paramref name="stdout"/>'s lines (lines starting with '{'), each parsed.</summary>
    public static List<JsonElement> JsonLines(string stdout) =>
        [.. stdout.Split('\n').Where(l => l.TrimStart().StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement.Clone())];

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FiberManager.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("FiberManager.sln not found above " + AppContext.BaseDirectory);
    }
}
