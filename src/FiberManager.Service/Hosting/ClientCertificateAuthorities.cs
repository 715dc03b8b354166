using System.Security.Cryptography.X509Certificates;

namespace FiberManager.Service.Hosting;

/// <summary>
/// The certificate authorities client certificates must chain to, read from one PEM file: the
/// self-signed roots become the only trust anchors, anything else is an intermediate that may
/// complete a client's chain.
/// </summary>
internal sealed class ClientCertificateAuthorities
{
    private ClientCertificateAuthorities(X509Certificate2Collection roots, X509Certificate2Collection intermediates)
    {
        Roots = roots;
        Intermediates = intermediates;
    }

    /// <summary>No authorities (mutual TLS is off).</summary>
    public static ClientCertificateAuthorities None { get; } = new([], []);

    /// <summary>The trust anchors (self-signed CA certificates).</summary>
    public X509Certificate2Collection Roots { get; }

    /// <summary>Intermediate CA certificates from the same file.</summary>
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The authorities the options configure: <see cref="None"/> unless a client-certificate mode is set.</summary>
    public static ClientCertificateAuthorities From(ServerOptions options) =>
        options.ClientCertificateMode == ClientCertificateMode.None || string.IsNullOrEmpty(options.ClientCertificateAuthorityPath)
            ? None
            : Load(options.ClientCertificateAuthorityPath);

    /// <summary>Reads <paramref name="path"/> (PEM, one or more <c>CERTIFICATE</c> blocks).</summary>
    public static ClientCertificateAuthorities Load(string path)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(path);
        var roots = new X509Certificate2Collection();
        var intermediates = new X509Certificate2Collection();
        foreach (var certificate in all)
        {
            (certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData) ? roots : intermediates).Add(certificate);
        }

        return new ClientCertificateAuthorities(roots, intermediates);
    }
}
