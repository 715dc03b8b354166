using System.Diagnostics;
using System.Text;

namespace FiberManager.Contract.Tests.TestSupport;

/// <summary>
/// A child process whose stdout and stderr are collected (interleaved, bounded to the last
/// <see cref="MaxOutputChars"/> characters) for failure messages, and stderr on its own too.
/// Disposing kills it and its children by its PID if it is still running.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    public const int MaxOutputChars = 200_000;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _lock = new();

    private ChildProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote so far.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Everything the process wrote to standard error so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_lock)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Starts the process; an <paramref name="environment"/> entry with a null value removes that variable.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // closed at once: no child waits on the test host's stdin
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                startInfo.Environment.Remove(key);
            }
            else
            {
                startInfo.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = startInfo };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data, error: true);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {fileName}.");
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for the process to exit (and its output to be read), at most <paramref name="timeout"/>.</summary>
    /// <returns>False when it was still running at the timeout.</returns>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return _process.HasExited;
        }
    }

    /// <summary>Sends SIGTERM (a graceful stop) to the process.</summary>
    public async Task TerminateAsync()
    {
        await using var kill = Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], Environment.CurrentDirectory);
        await kill.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private void Append(string? line, bool error = false)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            if (error && _error.Length < MaxOutputChars)
            {
                _error.AppendLine(line);
            }

            _output.AppendLine(line);
            if (_output.Length > MaxOutputChars)
            {
                _output.Remove(0, _output.Length - MaxOutputChars);
            }
        }
    }
}
