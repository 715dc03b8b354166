using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace FiberManager.Client;

/// <summary>Checks the server's certificate against one private CA instead of the machine's trust store.</summary>
internal static class ServerCertificateTrust
{
    /// <summary>
    /// True when the certificate matches the host name (no <see cref="SslPolicyErrors.RemoteCertificateNameMismatch"/>)
    /// and chains to <paramref name="authority"/> alone (no revocation check, no downloads).
    /// </summary>
    public static bool IsTrusted(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 authority)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
