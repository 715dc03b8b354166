using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using FiberManager.Client.Tests.TestSupport;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>A TLS service whose certificate comes from a private CA (client certificates allowed, not required).</summary>
public sealed class TlsServiceFixture : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = new();

    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(Certificates.ServerSettings("Allow"));

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        Certificates.Dispose();
    }
}

/// <summary>The client's own TLS settings: the private CA it trusts for the server, and its client certificate.</summary>
public sealed class TlsTests(TlsServiceFixture fixture) : IClassFixture<TlsServiceFixture>
{
    private TestCertificates Certificates => fixture.Certificates;

    [Fact]
    public async Task Client_ServerCertificateAuthorityOfTheServer_Trusted()
    {
        using var client = new FiberManagerClient(new FiberManagerClientOptions
        {
            Address = fixture.Host.Address,
            ServerCertificateAuthority = Certificates.Ca,
            ClientCertificate = Certificates.Client,
        });
        Assert.True((await client.StartAsync(Ids.New("tls"), "echo").DefaultTimeout()).Created);
    }

    /// <summary>The client's ServerCertificateAuthority replaces the machine store: a server certificate from another CA is refused by the client.</summary>
    [Fact]
    public async Task Client_ServerCertificateAuthorityOfAnotherCa_RefusesTheServer()
    {
        using var client = new FiberManagerClient(new FiberManagerClientOptions
        {
            Address = fixture.Host.Address,
            ServerCertificateAuthority = Certificates.OtherCa,
        });
        var error = await Assert.ThrowsAsync<RpcException>(() => client.ListWorkflowsAsync()).DefaultTimeout();
        Assert.Equal(StatusCode.Internal, error.StatusCode); // grpc-dotnet's code for a failed TLS handshake
        Assert.IsType<AuthenticationException>(Assert.IsType<HttpRequestException>(error.Status.DebugException).InnerException);
    }

    [Fact]
    public void Client_CertificateWithoutPrivateKey_Rejected()
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(Certificates.Client.Export(X509ContentType.Cert));
        Assert.Throws<ArgumentException>(() => new FiberManagerClient(new FiberManagerClientOptions { Address = fixture.Host.Address, ClientCertificate = publicOnly }));
    }
}
