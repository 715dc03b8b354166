using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Reflection;

namespace FiberManager.Contract.Tests.TestSupport;

/// <summary>
/// The real FiberManager service binary, started as <c>dotnet FiberManager.Service.dll</c> on a
/// free 127.0.0.1 port, ready once its gRPC health Check answers SERVING. Disposing kills it by
/// its PID if it still runs. The tests build nothing: the binary comes from the solution build.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    /// <summary>The concurrency limit the suites' limit tests fill.</summary>
    public const int MaxConcurrentFibers = 16;

    private static readonly TimeSpan s_readinessTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_probeInterval = TimeSpan.FromMilliseconds(100);

    // An empty grpc.health.v1.HealthCheckRequest (service ""), framed: no compression, length 0.
    private static readonly byte[] s_healthCheckRequest = [0, 0, 0, 0, 0];

    // HealthCheckResponse { status: SERVING }, framed: field 1 varint 1.
    private static readonly byte[] s_servingResponse = [0, 0, 0, 0, 2, 0x08, 0x01];

    private ServiceProcess(ChildProcess process, int port)
    {
        Process = process;
        Port = port;
    }

    public ChildProcess Process { get; }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the gRPC target for Python and Node.</summary>
    public string Target => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary><c>http://127.0.0.1:port</c>, the base URL for buf curl.</summary>
    public string Url => $"http://{Target}";

    /// <summary>The service DLL of the solution build (override with FM_SERVICE_DLL).</summary>
    public static string ServiceDll
    {
        get
        {
            if (Environment.GetEnvironmentVariable("FM_SERVICE_DLL") is { Length: > 0 } overridden)
            {
                return overridden;
            }

            var metadata = typeof(ServiceProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().ToDictionary(a => a.Key, a => a.Value);
            return System.IO.Path.Combine(
                RepositoryRoot.Path, "src", "FiberManager.Service", "bin", metadata["ServiceConfiguration"]!, metadata["ServiceTargetFramework"]!, "FiberManager.Service.dll");
        }
    }

    /// <summary>The service on a free port (<c>--urls</c>) with the contract suites' concurrency limit, once SERVING.</summary>
    public static Task<ServiceProcess> StartAsync()
    {
        var port = FreePort();
        return StartAsync(
            port,
            [
                $"--urls=http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}",
                $"--FiberManager:MaxConcurrentFibers={MaxConcurrentFibers.ToString(CultureInfo.InvariantCulture)}",
            ]);
    }

    /// <summary>
    /// The service started with <paramref name="arguments"/> and <paramref name="environment"/>
    /// (which must make it listen on 127.0.0.1:<paramref name="port"/>), once SERVING there over h2c.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(int port, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var service = new ServiceProcess(Run(arguments, environment), port);
        try
        {
            await service.WaitUntilServingAsync();
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Starts the service binary without waiting for anything. The listen-address variables of the
    /// test's own environment are removed first (what <paramref name="environment"/> sets wins).
    /// </summary>
    public static ChildProcess Run(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var dll = ServiceDll;
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"{dll} is missing: build the solution first (scripts/test.sh does).", dll);
        }

        var variables = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["ASPNETCORE_URLS"] = null,
            ["ASPNETCORE_HTTP_PORTS"] = null,
            ["ASPNETCORE_HTTPS_PORTS"] = null,
            ["DOTNET_URLS"] = null,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            variables[key] = value;
        }

        return ChildProcess.Start("dotnet", [dll, .. arguments], RepositoryRoot.Path, variables);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    /// <summary>A port nothing listens on right now (the OS picks it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls grpc.health.v1.Health/Check over h2c until SERVING, at most <see cref="s_readinessTimeout"/>.</summary>
    private async Task WaitUntilServingAsync()
    {
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = s_probeTimeout }) { Timeout = s_probeTimeout };
        var deadline = DateTime.UtcNow + s_readinessTimeout;
        string lastFailure = "no probe yet";
        while (DateTime.UtcNow < deadline)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"The service exited with {Process.ExitCode} before it was ready:\n{Process.Output}");
            }

            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"{Url}/grpc.health.v1.Health/Check")
                {
                    // Cleartext HTTP/2 with prior knowledge, as gRPC clients speak it.
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                    Content = new ByteArrayContent(s_healthCheckRequest),
                };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
                request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                var status = response.TrailingHeaders.TryGetValues("grpc-status", out var values) ? values.FirstOrDefault()
                    : response.Headers.TryGetValues("grpc-status", out values) ? values.FirstOrDefault() : null;
                if (response.IsSuccessStatusCode && status == "0" && body.AsSpan().SequenceEqual(s_servingResponse))
                {
                    return;
                }

                lastFailure = $"HTTP/{response.Version} {(int)response.StatusCode}, grpc-status {status ?? "(none)"}, body {Convert.ToHexString(body)}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                lastFailure = e.Message;
            }

            await Task.Delay(s_probeInterval);
        }

        throw new TimeoutException($"The service was not SERVING within {s_readinessTimeout.TotalSeconds} s ({lastFailure}):\n{Process.Output}");
    }
}
