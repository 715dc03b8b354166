using System.Security.Cryptography.X509Certificates;

namespace FiberManager.Service.Hosting;

/// <summary>Loads the server certificate: a PFX (with an optional password) or a PEM pair.</summary>
internal static class CertificateLoader
{
    public static X509Certificate2 Load(string path, string? keyPathOrPassword)
    {
        if (path.EndsWith(".pem", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".crt", StringComparison.OrdinalIgnoreCase))
        {
            return X509Certificate2.CreateFromPemFile(path, keyPathOrPassword);
        }

        return X509CertificateLoader.LoadPkcs12FromFile(path, keyPathOrPassword);
    }
}
