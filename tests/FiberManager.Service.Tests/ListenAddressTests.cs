using FiberManager.Service.Hosting;
using Microsoft.Extensions.Configuration;

namespace FiberManager.Service.Tests;

/// <summary>
/// When the service uses its default address (127.0.0.1:50051): only when none of ASP.NET Core's
/// own settings names one (the real binary is started with each of them in the contract tests).
/// </summary>
public sealed class ListenAddressTests
{
    public static TheoryData<string, string> Settings => new()
    {
        { "urls", "http://127.0.0.1:5005" },                    // --urls, ASPNETCORE_URLS, DOTNET_URLS
        { "http_ports", "8080" },                               // ASPNETCORE_HTTP_PORTS
        { "https_ports", "8443" },                              // ASPNETCORE_HTTPS_PORTS
        { "Kestrel:Endpoints:Grpc:Url", "http://127.0.0.1:5005" }, // Kestrel:Endpoints (appsettings, Kestrel__Endpoints__*)
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void HasListenAddress_AnAspNetCoreSetting_True(string key, string value) =>
        Assert.True(FiberManagerServiceExtensions.HasListenAddress(Configuration(new() { [key] = value })));

    [Fact]
    public void HasListenAddress_NoneOrEmpty_False()
    {
        Assert.False(FiberManagerServiceExtensions.HasListenAddress(Configuration([])));

        // The container image clears ASPNETCORE_HTTP_PORTS this way.
        Assert.False(FiberManagerServiceExtensions.HasListenAddress(Configuration(new() { ["urls"] = "", ["http_ports"] = " ", ["https_ports"] = "" })));
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();
}
