using System.Diagnostics;
using FiberManager.Protocol.Tests.TestSupport;

namespace FiberManager.Protocol.Tests;

/// <summary>The contract passes buf lint (buf.yaml at the repository root).</summary>
public class BufLintTests
{
    [Fact]
    public async Task BufLint_Protos_Clean()
    {
        string buf = Path.Combine(RepositoryRoot.Path, "node_modules", ".bin", "buf");
        Assert.True(File.Exists(buf), $"{buf} is missing: run `npm ci` at the repository root (scripts/prerequisites.sh does).");

        var startInfo = new ProcessStartInfo(buf, "lint")
        {
            WorkingDirectory = RepositoryRoot.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(startInfo)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string output = await stdout.DefaultTimeout() + await stderr.DefaultTimeout();
        Assert.True(process.ExitCode == 0, $"buf lint exited with {process.ExitCode}:\n{output}");
    }
}
