using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FiberManager.Client;
using FiberManager.Protocol.V1;
using Grpc.Net.Client;

namespace FiberManager.Service.Tests;

public sealed class TlsTests
{
    [Fact]
    public async Task Serve_CertificateConfigured_GrpcOverTlsWorks()
    {
        var directory = Directory.CreateTempSubdirectory("fm-tls-");
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
            var certPath = Path.Combine(directory.FullName, "server.pem");
            var keyPath = Path.Combine(directory.FullName, "server.key");
            await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

            await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
            {
                ["urls"] = "https://127.0.0.1:0",
                ["FiberManager:Server:CertificatePath"] = certPath,
                ["FiberManager:Server:CertificateKeyPathOrPassword"] = keyPath,
            });
            Assert.Equal(Uri.UriSchemeHttps, host.Address.Scheme);

            var thumbprint = certificate.GetCertHashString();
            using var http = new HttpClient(new SocketsHttpHandler
            {
                SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == thumbprint },
            })
            {
                BaseAddress = host.Address,
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using var channel = GrpcChannel.ForAddress(host.Address, new GrpcChannelOptions { HttpClient = http });
            using var client = new FiberManagerClient(channel);
            var started = await client.StartAsync("tls-echo", "echo").DefaultTimeout();
            Assert.True(started.Created);
            var info = await client.GetStatusAsync("tls-echo").DefaultTimeout();
            Assert.Equal("echo", info.Workflow);
            Assert.NotEqual(FiberStatus.Unspecified, info.Status);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
