namespace FiberManager.Service.Hosting;

/// <summary>Builds the service's web application (used by <c>Program</c> and by functional tests).</summary>
public static class FiberManagerApp
{
    /// <summary>Creates the app: configuration (appsettings.json, environment, command line), the manager, the gRPC endpoints.</summary>
    /// <param name="args">Command-line arguments (configuration overrides such as <c>--FiberManager:Server:Url=http://0.0.0.0:50051</c>).</param>
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
        var app = builder.Build();
        app.MapFiberManagerService();
        return app;
    }
}
