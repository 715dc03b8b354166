using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FiberManager.Protocol;
using FiberManager.Service.Hosting;
using Microsoft.AspNetCore.Http;

namespace FiberManager.Service.Grpc;

/// <summary>
/// Mutual TLS, checked per call: the TLS handshake asks for a client certificate and accepts
/// whatever is presented, and this check, before the method runs, refuses a FiberManager call
/// with UNAUTHENTICATED when the certificate is missing (mode Require) or does not chain to the
/// configured client CA, has expired, or is not for client authentication. A refusal is then a
/// gRPC status the client can read rather than a reset connection. Health and reflection stay
/// open, as with API keys.
/// </summary>
/// <remarks>
/// The chain is built against the configured roots only (<see cref="X509ChainTrustMode.CustomRootTrust"/>,
/// never the machine store), without revocation checks or downloads, and the leaf must carry the
/// client-authentication extended key usage. The verdict is cached per certificate object, which
/// Kestrel keeps per connection; validity in time is checked again on every call.
/// </remarks>
internal sealed class ClientCertificateAuthenticator
{
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    private readonly ClientCertificateMode _mode;
    private readonly ClientCertificateAuthorities? _authorities;
    private readonly TimeProvider _time;
    private readonly ConditionalWeakTable<X509Certificate2, Verdict> _verdicts = [];
    private readonly ConditionalWeakTable<X509Certificate2, Verdict>.CreateValueCallback _check;

    public ClientCertificateAuthenticator(ServerOptions options, TimeProvider? time = null)
    {
        _mode = options.ClientCertificateMode;
        _time = time ?? TimeProvider.System;
        _check = Check;
        if (_mode != ClientCertificateMode.None && !string.IsNullOrEmpty(options.ClientCertificateAuthorityPath))
        {
            _authorities = ClientCertificateAuthorities.Load(options.ClientCertificateAuthorityPath);
        }
    }

    /// <summary>True when client certificates are requested (Allow or Require).</summary>
    public bool Enabled => _mode != ClientCertificateMode.None;

    /// <summary>Throws UNAUTHENTICATED when the call's connection has no acceptable client certificate.</summary>
    public void Authorize(HttpContext http, string method)
    {
        if (!Enabled || ApiKeyAuthenticator.IsOpen(method))
        {
            return;
        }

        var certificate = http.Connection.ClientCertificate;
        if (certificate is null)
        {
            if (_mode == ClientCertificateMode.Require)
            {
                throw new GrpcStatusException(GrpcStatusCode.Unauthenticated, "A client certificate is required: connect over TLS with a certificate issued by the server's client CA.");
            }

            return;
        }

        var now = _time.GetUtcNow();
        if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
        {
            throw Refused(certificate, $"is not valid now (valid from {certificate.NotBefore.ToUniversalTime():u} to {certificate.NotAfter.ToUniversalTime():u})");
        }

        var verdict = _verdicts.GetValue(certificate, _check);
        if (verdict.Problem is { } problem)
        {
            throw Refused(certificate, problem);
        }
    }

    private static GrpcStatusException Refused(X509Certificate2 certificate, string problem) =>
        new(GrpcStatusCode.Unauthenticated, $"The client certificate '{certificate.Subject}' {problem}.");

    private Verdict Check(X509Certificate2 certificate)
    {
        if (!HasClientAuthenticationUsage(certificate))
        {
            return new("is not for client authentication (its extended key usage lacks clientAuth, 1.3.6.1.5.5.7.3.2)");
        }

        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.AddRange(_authorities!.Roots);
        policy.ExtraStore.AddRange(_authorities.Intermediates);
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        if (chain.Build(certificate))
        {
            return new(null);
        }

        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            return new("is not issued by the server's client CA");
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            return new("or a certificate of its chain is outside its validity period");
        }

        return new($"is not trusted ({flags})");
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

    /// <summary>Null when the certificate is trusted; otherwise what is wrong with it.</summary>
    private sealed record Verdict(string? Problem);
}
