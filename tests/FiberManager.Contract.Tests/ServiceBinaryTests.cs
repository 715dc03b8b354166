using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using FiberManager.Contract.Tests.TestSupport;

namespace FiberManager.Contract.Tests;

/// <summary>
/// The service binary as an operator starts it: where it listens (ASP.NET Core's own settings,
/// or 127.0.0.1:50051 with none), and how it refuses to start (one line on standard error
/// naming the problem, a non-zero exit code, no stack trace).
/// </summary>
public sealed partial class ServiceBinaryTests
{
    private static readonly TimeSpan s_exitTimeout = TimeSpan.FromSeconds(60);

    /// <summary>With no listen address configured at all: cleartext HTTP/2 on 127.0.0.1:50051.</summary>
    [Fact]
    public async Task NoListenConfiguration_ServesH2cOn127_0_0_1_50051()
    {
        AssertPortFree(50051);
        await using var service = await ServiceProcess.StartAsync(50051, []);

        Assert.Contains("Now listening on: http://127.0.0.1:50051", service.Process.Output, StringComparison.Ordinal);
    }

    public static TheoryData<string> ListenSettings => new() { "--urls", "ASPNETCORE_URLS", "Kestrel:Endpoints" };

    /// <summary>The ASP.NET Core ways to set the address (each serves h2c; the default address is then not used).</summary>
    [Theory]
    [MemberData(nameof(ListenSettings))]
    public async Task ListenAddress_SetTheAspNetCoreWay_ServesH2cThere(string setting)
    {
        var port = ServiceProcess.FreePort();
        var url = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var (arguments, environment) = setting switch
        {
            "--urls" => (new[] { $"--urls={url}" }, new Dictionary<string, string?>()),
            "ASPNETCORE_URLS" => ([], new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = url }),
            _ => ([], new Dictionary<string, string?> { ["Kestrel__Endpoints__Grpc__Url"] = url }),
        };

        await using var service = await ServiceProcess.StartAsync(port, arguments, environment);

        Assert.Contains($"Now listening on: {url}", service.Process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1:50051", service.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BusyPort_ExitsWithOneLineNamingTheAddress()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)busy.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture)}";

        await AssertRefusesToStartAsync([$"--urls={url}"], $"Failed to bind to address {url}: address already in use.");
    }

    [Fact]
    public async Task BadCertificate_ExitsWithOneLineNamingTheOption()
    {
        var certificate = Path.Combine(Directory.CreateTempSubdirectory("fm-bad-certificate-").FullName, "server.pem");
        try
        {
            await File.WriteAllTextAsync(certificate, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");

            await AssertRefusesToStartAsync(
                ["--urls=https://127.0.0.1:0", $"--FiberManager:Server:CertificatePath={certificate}", $"--FiberManager:Server:CertificateKeyPathOrPassword={certificate}"],
                $"FiberManager:Server:CertificatePath '{certificate}' is not a usable certificate");
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(certificate)!, recursive: true);
        }
    }

    [Fact]
    public async Task HttpsAddressWithoutCertificate_ExitsWithOneLine() =>
        await AssertRefusesToStartAsync(["--urls=https://127.0.0.1:0"], "No server certificate was specified");

    public static TheoryData<string, string> MisspelledOptions => new()
    {
        { "--FiberManager:MaxConcurentFibers=5", "FiberManager:MaxConcurentFibers is not a FiberManager option" },
        { "--FiberManager:Server:MaxMesageSize=4096", "FiberManager:Server:MaxMesageSize is not a FiberManager:Server option" },
        { "--FiberManager:Server:Url=http://127.0.0.1:50051", "FiberManager:Server:Url is no longer read: set the listen address the ASP.NET Core way" },
        { "--FiberManager:Security:RateLimit:Brust=5", "Brust" },
        { "--FiberManager:MaxConcurrentFibers=0", "MaxConcurrentFibers" },
    };

    [Theory]
    [MemberData(nameof(MisspelledOptions))]
    public async Task MisspelledOrInvalidOption_ExitsWithOneLineNamingIt(string argument, string expected) =>
        await AssertRefusesToStartAsync(["--urls=http://127.0.0.1:0", argument], expected);

    private static async Task AssertRefusesToStartAsync(string[] arguments, string expected)
    {
        await using var process = ServiceProcess.Run(arguments);
        Assert.True(await process.WaitForExitAsync(s_exitTimeout), $"The service did not exit within {s_exitTimeout.TotalSeconds} s:\n{process.Output}");

        Assert.True(process.ExitCode != 0, $"The service exited with 0:\n{process.Output}");
        var line = Assert.Single(process.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("FiberManager failed to start: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.False(StackFrame().IsMatch(process.Output), $"A stack trace was written:\n{process.Output}");
    }

    private static void AssertPortFree(int port)
    {
        try
        {
            using var probe = new TcpListener(IPAddress.Loopback, port);
            probe.Start();
        }
        catch (SocketException e)
        {
            Assert.Fail($"Port {port} is taken by another process on this machine ({e.SocketErrorCode}): the default address cannot be tested while it is.");
        }
    }

    [GeneratedRegex(@"^\s+at \S", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
