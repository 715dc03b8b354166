using System.Security.Cryptography.X509Certificates;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace FiberManager.Service.Tests;

/// <summary>Two TLS hosts trusting one client CA: one requires a client certificate, one allows it.</summary>
public sealed class MutualTlsFixture : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = new();

    public ServiceHost Require { get; private set; } = null!;

    public ServiceHost Allow { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Require = await ServiceHost.StartAsync(Certificates.ServerSettings("Require"));
        Allow = await ServiceHost.StartAsync(Certificates.ServerSettings("Allow"));
    }

    public async Task DisposeAsync()
    {
        await Require.DisposeAsync();
        await Allow.DisposeAsync();
        Certificates.Dispose();
    }

    /// <summary>A client trusting the test CA for the server, presenting <paramref name="certificate"/> (null: none).</summary>
    public FiberManagerClient ClientOf(ServiceHost host, X509Certificate2? certificate, string? apiKey = null) => new(new FiberManagerClientOptions
    {
        Address = host.Address,
        ClientCertificate = certificate,
        ServerCertificateAuthority = Certificates.Ca,
        ApiKey = apiKey,
    });
}

/// <summary>
/// mTLS over real Kestrel. The handshake asks for a certificate and never fails over it; a
/// FiberManager call without an acceptable one gets UNAUTHENTICATED with a message naming the
/// problem (missing, other CA, expired, no clientAuth usage).
/// </summary>
public sealed class MutualTlsTests(MutualTlsFixture fixture) : IClassFixture<MutualTlsFixture>
{
    private TestCertificates Certificates => fixture.Certificates;

    private static async Task AssertUnauthenticatedAsync(FiberManagerClient client, string expectedMessage)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => client.StartAsync(Ids.New("mtls"), "echo")).DefaultTimeout();
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains(expectedMessage, error.Status.Detail, StringComparison.Ordinal);
        Assert.Null(error.GetReason());
    }

    [Fact]
    public async Task Require_TrustedClientCertificate_UnaryAndStreamingCallsSucceed()
    {
        using var client = fixture.ClientOf(fixture.Require, Certificates.Client);
        var id = Ids.New("mtls");

        Assert.True((await client.StartAsync(id, "echo").DefaultTimeout()).Created);
        await client.SubmitAsync(id, Google.Protobuf.WellKnownTypes.Value.ForString("over mTLS")).DefaultTimeout();
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var e in client.SubscribeAsync(id, cancellationToken: bounded.Token))
        {
            if (e.EventCase == FiberEvent.EventOneofCase.Output)
            {
                Assert.Equal("over mTLS", e.Output.Json.StringValue);
                break;
            }
        }

        Assert.Equal(FiberStatus.Interrupted, (await client.InterruptAsync(id).DefaultTimeout()).Status);
    }

    [Fact]
    public async Task Require_NoClientCertificate_Unauthenticated()
    {
        using var client = fixture.ClientOf(fixture.Require, certificate: null);
        await AssertUnauthenticatedAsync(client, "A client certificate is required");
    }

    [Fact]
    public async Task Require_CertificateOfAnotherCa_Unauthenticated()
    {
        using var client = fixture.ClientOf(fixture.Require, Certificates.ClientOfOtherCa);
        await AssertUnauthenticatedAsync(client, "'CN=stranger' is not issued by the server's client CA");
    }

    [Fact]
    public async Task Require_ExpiredCertificate_Unauthenticated()
    {
        using var client = fixture.ClientOf(fixture.Require, Certificates.ExpiredClient);
        await AssertUnauthenticatedAsync(client, "'CN=expired-client' is not valid now");
    }

    [Fact]
    public async Task Require_CertificateWithoutClientAuthUsage_Unauthenticated()
    {
        using var client = fixture.ClientOf(fixture.Require, Certificates.ServerOnlyUsageClient);
        await AssertUnauthenticatedAsync(client, "is not for client authentication");
    }

    [Fact]
    public async Task Require_NoClientCertificate_HealthStaysOpen()
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == Certificates.Server.GetCertHashString() },
        })
        {
            BaseAddress = fixture.Require.Address,
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/grpc.health.v1.Health/Check")
        {
            Content = new ByteArrayContent([0, 0, 0, 0, 0]), // an empty HealthCheckRequest
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request).DefaultTimeout();
        await response.Content.ReadAsByteArrayAsync().DefaultTimeout();
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var trailer) ? trailer.Single() : response.Headers.GetValues("grpc-status").Single();
        Assert.Equal("0", status);
    }

    [Fact]
    public async Task Allow_NoClientCertificate_Served()
    {
        using var client = fixture.ClientOf(fixture.Allow, certificate: null);
        Assert.True((await client.StartAsync(Ids.New("mtls"), "echo").DefaultTimeout()).Created);
    }

    [Fact]
    public async Task Allow_TrustedClientCertificate_Served()
    {
        using var client = fixture.ClientOf(fixture.Allow, Certificates.Client);
        Assert.True((await client.StartAsync(Ids.New("mtls"), "echo").DefaultTimeout()).Created);
    }

    [Fact]
    public async Task Allow_UntrustedClientCertificate_Unauthenticated()
    {
        using var client = fixture.ClientOf(fixture.Allow, Certificates.ClientOfOtherCa);
        await AssertUnauthenticatedAsync(client, "is not issued by the server's client CA");
    }
}

/// <summary>mTLS and API keys together: both must pass; the key gives the caller's permissions and fiber cap.</summary>
public sealed class MutualTlsWithApiKeysTests
{
    private const string Key = "mtls-operator-key-0123456789";

    [Fact]
    public async Task RequireAndApiKeys_BothNeeded()
    {
        using var certificates = new TestCertificates();
        var settings = certificates.ServerSettings("Require");
        settings["FiberManager:Security:ApiKeys:0:Key"] = Key;
        settings["FiberManager:Security:ApiKeys:0:Name"] = "operator";
        settings["FiberManager:Security:ApiKeys:0:Permissions"] = "Read, Control";
        await using var host = await ServiceHost.StartAsync(settings);
        FiberManagerClient Client(X509Certificate2? certificate, string? key) => new(new FiberManagerClientOptions
        {
            Address = host.Address,
            ClientCertificate = certificate,
            ServerCertificateAuthority = certificates.Ca,
            ApiKey = key,
        });

        using var both = Client(certificates.Client, Key);
        Assert.True((await both.StartAsync(Ids.New("mtls"), "echo").DefaultTimeout()).Created);

        using var certificateOnly = Client(certificates.Client, null);
        var noKey = await Assert.ThrowsAsync<RpcException>(() => certificateOnly.StartAsync(Ids.New("mtls"), "echo")).DefaultTimeout();
        Assert.Equal(StatusCode.Unauthenticated, noKey.StatusCode);
        Assert.Contains("API key", noKey.Status.Detail, StringComparison.Ordinal);

        using var keyOnly = Client(null, Key);
        var noCertificate = await Assert.ThrowsAsync<RpcException>(() => keyOnly.StartAsync(Ids.New("mtls"), "echo")).DefaultTimeout();
        Assert.Equal(StatusCode.Unauthenticated, noCertificate.StatusCode);
        Assert.Contains("client certificate is required", noCertificate.Status.Detail, StringComparison.Ordinal);
    }
}

/// <summary>Client-certificate options are checked at start, each with a message naming the option.</summary>
public sealed class MutualTlsOptionsTests
{
    private static async Task AssertStartFailsAsync(Dictionary<string, string?> settings, string expected)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => ServiceHost.StartAsync(settings)).DefaultTimeout();
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Require_WithoutServerCertificate_FailsAtStart()
    {
        using var certificates = new TestCertificates();
        await AssertStartFailsAsync(
            new() { ["FiberManager:Server:ClientCertificateMode"] = "Require", ["FiberManager:Server:ClientCertificateAuthorityPath"] = certificates.CaPath },
            "FiberManager:Server:ClientCertificateMode Require needs TLS: a server certificate in FiberManager:Server:CertificatePath and an https listen address.");
    }

    [Fact]
    public async Task MissingCaFile_FailsAtStart()
    {
        using var certificates = new TestCertificates();
        var settings = certificates.ServerSettings("Require");
        var missing = Path.Combine(certificates.Directory, "no-such-ca.pem");
        settings["FiberManager:Server:ClientCertificateAuthorityPath"] = missing;
        await AssertStartFailsAsync(settings, $"FiberManager:Server:ClientCertificateAuthorityPath '{missing}' does not exist.");
    }

    [Fact]
    public async Task ModeWithoutCa_FailsAtStart()
    {
        using var certificates = new TestCertificates();
        var settings = certificates.ServerSettings("Allow");
        settings["FiberManager:Server:ClientCertificateAuthorityPath"] = null;
        await AssertStartFailsAsync(settings, "FiberManager:Server:ClientCertificateMode Allow needs FiberManager:Server:ClientCertificateAuthorityPath");
    }

    [Fact]
    public async Task CaWithModeNone_FailsAtStart()
    {
        using var certificates = new TestCertificates();
        await AssertStartFailsAsync(certificates.ServerSettings("None"), "FiberManager:Server:ClientCertificateAuthorityPath is set but FiberManager:Server:ClientCertificateMode is None");
    }

    [Fact]
    public async Task CaFileWithoutRootCertificate_FailsAtStart()
    {
        using var certificates = new TestCertificates();
        var settings = certificates.ServerSettings("Require");
        settings["FiberManager:Server:ClientCertificateAuthorityPath"] = certificates.Write("not-a-ca.pem", certificates.Client.ExportCertificatePem());
        await AssertStartFailsAsync(settings, "holds no self-signed root CA certificate");
    }
}
