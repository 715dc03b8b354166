using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;

namespace FiberManager.Service.Security;

/// <summary>
/// Mutual TLS, on top of ASP.NET Core's certificate authentication handler (which builds the chain
/// against the configured CA only, requires the client-authentication usage and the validity
/// period): the handler's verdict is cached per certificate object, which Kestrel keeps per
/// connection, while validity in time is checked again on every call; and a refused caller is
/// told why (missing, another CA, expired, not for client authentication).
/// </summary>
/// <remarks>
/// The handler's own <c>AddCertificateCache</c> keys its entries by certificate hash with a sliding
/// expiration, so a certificate that was refused before its validity began would stay refused
/// after; hence this <see cref="ICertificateValidationCache"/>. The handler reports a failed chain
/// only as "Client certificate failed validation.": the reason is worked out here, once per
/// certificate, when a call is refused.
/// </remarks>
internal sealed class ClientCertificateVerdicts(ClientCertificateAuthorities authorities, TimeProvider time) : ICertificateValidationCache
{
    /// <summary>What a caller without a certificate is told (mode Require).</summary>
    public const string RequiredMessage = "A client certificate is required: connect over TLS with a certificate issued by the server's client CA.";

    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    private readonly ConditionalWeakTable<X509Certificate2, AuthenticateResult> _results = [];
    private readonly ConditionalWeakTable<X509Certificate2, string> _problems = [];

    /// <inheritdoc/>
    public AuthenticateResult? Get(HttpContext context, X509Certificate2 certificate) =>
        IsValidNow(certificate) && _results.TryGetValue(certificate, out var result) ? result : null;

    /// <inheritdoc/>
    public void Put(HttpContext context, X509Certificate2 certificate, AuthenticateResult result)
    {
        // A verdict reached outside the validity period is about time, which is checked per call.
        if (IsValidNow(certificate))
        {
            _results.AddOrUpdate(certificate, result);
        }
    }

    /// <summary>Why the call's connection has no acceptable client certificate, for the UNAUTHENTICATED status.</summary>
    public string DescribeRefusal(HttpContext context)
    {
        if (context.Connection.ClientCertificate is not { } certificate)
        {
            return RequiredMessage;
        }

        var problem = IsValidNow(certificate)
            ? _problems.GetValue(certificate, Diagnose)
            : $"is not valid now (valid from {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u})";
        return $"The client certificate '{certificate.Subject}' {problem}.";
    }

    /// <summary>
    /// Refuses a certificate the chain accepted but that does not name client authentication
    /// among its extended key usages (a certificate without the extension passes the chain's
    /// application-policy check; the service requires the usage explicitly).
    /// </summary>
    public static Task RequireClientAuthenticationUsage(CertificateValidatedContext context)
    {
        if (!HasClientAuthenticationUsage(context.ClientCertificate))
        {
            context.Fail($"The client certificate '{context.ClientCertificate.Subject}' {NotForClientAuthentication}.");
        }

        return Task.CompletedTask;
    }

    private const string NotForClientAuthentication = "is not for client authentication (its extended key usage lacks clientAuth, 1.3.6.1.5.5.7.3.2)";

    private bool IsValidNow(X509Certificate2 certificate)
    {
        var now = time.GetUtcNow();
        return now >= certificate.NotBefore.ToUniversalTime() && now <= certificate.NotAfter.ToUniversalTime();
    }

    private string Diagnose(X509Certificate2 certificate)
    {
        if (!HasClientAuthenticationUsage(certificate))
        {
            return NotForClientAuthentication;
        }

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(authorities.Roots);
        policy.ExtraStore.AddRange(authorities.Intermediates);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        if (chain.Build(certificate))
        {
            return "is not trusted";
        }

        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            return "is not issued by the server's client CA";
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            return "or a certificate of its chain is outside its validity period";
        }

        return $"is not trusted ({flags})";
    }

    private static bool HasClientAuthenticationUsage(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension usage)
            {
                foreach (var oid in usage.EnhancedKeyUsages)
                {
                    if (oid.Value == ClientAuthenticationOid)
                    {
                        return true;
                    }
                }

                return false;
            }
        }

        return false;
    }
}
