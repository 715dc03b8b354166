using FiberManager.Service.Telemetry;

namespace FiberManager.Service.Hosting;

/// <summary>The FiberManager service's own host (used by <c>Program</c> and by functional tests).</summary>
public static class FiberManagerApp
{
    /// <summary>
    /// Creates the app: configuration (appsettings.json, environment, command line), the manager,
    /// the gRPC endpoints, and OpenTelemetry export over OTLP when the standard <c>OTEL_*</c>
    /// variables name an endpoint.
    /// </summary>
    /// <param name="args">Command-line arguments (ASP.NET Core's, such as <c>--urls=http://0.0.0.0:50051</c>, and configuration overrides such as <c>--FiberManager:MaxConcurrentFibers=500</c>).</param>
    /// <param name="configure">A hook to change the builder before it is built (tests add settings or workflows here).</param>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.AddFiberManagerService();
        configure?.Invoke(builder);

        // Last, once every configuration source is in: OTLP export when OTEL_EXPORTER_OTLP_*ENDPOINT is set.
        builder.AddOtlpExportWhenConfigured();
        var app = builder.Build();
        app.MapFiberManagerService();
        return app;
    }

    /// <summary>
    /// Runs the service until it is stopped (SIGTERM, Ctrl-C). If it cannot start (an invalid or
    /// misspelled option, a busy port, a bad certificate), writes one line naming the problem to
    /// standard error and returns 1.
    /// </summary>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var startup = new StartupFailures();
        WebApplication? app = null;
        try
        {
            app = Create(args, builder => builder.Logging.AddFilter(StartupFailures.HostCategory, startup.Filter));
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"FiberManager failed to start: {StartupFailures.Describe(e)}").ConfigureAwait(false);
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            return 1;
        }

        startup.Started();
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        return 0;
    }
}
