using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FiberManager.Testing;

/// <summary>
/// Certificates made in the test: a client CA, a server certificate for 127.0.0.1 it signs, client
/// certificates it signs (valid, expired, without the clientAuth usage), and another CA with a
/// client certificate of its own. Files (PEM) go to a temporary directory removed on dispose.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
    private readonly DirectoryInfo _directory = System.IO.Directory.CreateTempSubdirectory("fm-mtls-");

    public TestCertificates()
    {
        var now = DateTimeOffset.UtcNow;
        Ca = CreateAuthority("CN=FiberManager Test Client CA", now);
        OtherCa = CreateAuthority("CN=Some Other CA", now);
        Server = Issue(Ca, "CN=127.0.0.1", ServerAuthentication, now.AddMinutes(-5), now.AddDays(1), IPAddress.Loopback);
        Client = Issue(Ca, "CN=trusted-client", ClientAuthentication, now.AddMinutes(-5), now.AddDays(1));
        ClientOfOtherCa = Issue(OtherCa, "CN=stranger", ClientAuthentication, now.AddMinutes(-5), now.AddDays(1));
        ExpiredClient = Issue(Ca, "CN=expired-client", ClientAuthentication, now.AddDays(-3), now.AddDays(-1));
        ServerOnlyUsageClient = Issue(Ca, "CN=server-usage-only", ServerAuthentication, now.AddMinutes(-5), now.AddDays(1));

        CaPath = Write("ca.pem", Ca.ExportCertificatePem());
        ServerCertificatePath = Write("server.pem", Server.ExportCertificatePem());
        ServerKeyPath = Write("server.key", Server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 OtherCa { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public X509Certificate2 ClientOfOtherCa { get; }

    public X509Certificate2 ExpiredClient { get; }

    public X509Certificate2 ServerOnlyUsageClient { get; }

    public string CaPath { get; }

    public string ServerCertificatePath { get; }

    public string ServerKeyPath { get; }

    public string Directory => _directory.FullName;

    /// <summary>Server settings for TLS on a free 127.0.0.1 port with the given client-certificate mode and this CA.</summary>
    public Dictionary<string, string?> ServerSettings(string mode) => new()
    {
        ["urls"] = "https://127.0.0.1:0",
        ["FiberManager:Server:CertificatePath"] = ServerCertificatePath,
        ["FiberManager:Server:CertificateKeyPathOrPassword"] = ServerKeyPath,
        ["FiberManager:Server:ClientCertificateMode"] = mode,
        ["FiberManager:Server:ClientCertificateAuthorityPath"] = CaPath,
    };

    public string Write(string name, string text)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        foreach (var certificate in new[] { Ca, OtherCa, Server, Client, ClientOfOtherCa, ExpiredClient, ServerOnlyUsageClient })
        {
            certificate.Dispose();
        }

        _directory.Delete(recursive: true);
    }

    private static X509Certificate2 CreateAuthority(string subject, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(now.AddDays(-10), now.AddDays(10));
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, string subject, string usage, DateTimeOffset notBefore, DateTimeOffset notAfter, IPAddress? address = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (address is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(address);
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(issuer, notBefore, notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }
}
