using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Hosting;

/// <summary>
/// Turns a failed start into one line for the operator. While the host starts, the generic host's
/// own report of the failure (an error log with the exception's stack trace) is held back: the
/// line <see cref="FiberManagerApp.RunAsync"/> writes says the same without the noise.
/// </summary>
internal sealed class StartupFailures
{
    /// <summary>The logger category of the generic host's own messages.</summary>
    public const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private volatile bool _started;

    /// <summary>
    /// The level filter of <see cref="HostCategory"/>: information and above, except errors
    /// before the start completed.
    /// </summary>
    public bool Filter(LogLevel level) => level >= LogLevel.Information && (_started || level < LogLevel.Error);

    /// <summary>From now on, the host's errors are logged as usual.</summary>
    public void Started() => _started = true;

    /// <summary>The problem in one line: the message of what failed (every option problem, for invalid options).</summary>
    public static string Describe(Exception exception)
    {
        var problem = exception switch
        {
            AggregateException { InnerExceptions.Count: 1 } aggregate => aggregate.InnerException!,
            _ => exception,
        };
        var message = problem switch
        {
            OptionsValidationException invalid => string.Join(" ", invalid.Failures),
            IOException or InvalidOperationException or CryptographicException or UnauthorizedAccessException or FormatException => problem.Message,
            _ => $"{problem.GetType().Name}: {problem.Message}",
        };
        return message.ReplaceLineEndings(" ").Trim();
    }
}
