using System.Security.Claims;
using FiberManager.Service.Hosting;
using FiberManager.Service.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace FiberManager.Service.Tests;

/// <summary>
/// The cache of client-certificate verdicts: a verdict holds for the certificate object (one per
/// connection) only while the certificate is within its validity period, checked on every call.
/// </summary>
public sealed class ClientCertificateVerdictsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    private ClientCertificateVerdicts Verdicts(FakeTimeProvider time) => new(ClientCertificateAuthorities.Load(_certificates.CaPath), time);

    private static AuthenticateResult Accepted() =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity("Certificate")), "Certificate"));

    [Fact]
    public void Get_AcceptedCertificate_CachedUntilItExpires()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var verdicts = Verdicts(time);
        var context = new DefaultHttpContext();
        context.Connection.ClientCertificate = _certificates.Client;
        var accepted = Accepted();

        verdicts.Put(context, _certificates.Client, accepted);
        Assert.Same(accepted, verdicts.Get(context, _certificates.Client));

        time.Advance(TimeSpan.FromDays(2)); // past NotAfter (issued for one day)
        Assert.Null(verdicts.Get(context, _certificates.Client));
        Assert.Contains("'CN=trusted-client' is not valid now (valid from", verdicts.DescribeRefusal(context), StringComparison.Ordinal);
    }

    [Fact]
    public void Put_OutsideTheValidityPeriod_NothingCached()
    {
        // Before the certificate's validity began: a refusal then is about time, never kept.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-1));
        var verdicts = Verdicts(time);
        var context = new DefaultHttpContext();

        verdicts.Put(context, _certificates.Client, AuthenticateResult.Fail("Client certificate failed validation."));
        time.Advance(TimeSpan.FromHours(1));

        Assert.Null(verdicts.Get(context, _certificates.Client));
    }

    [Fact]
    public void DescribeRefusal_EachReason_NamesIt()
    {
        var verdicts = Verdicts(new FakeTimeProvider(DateTimeOffset.UtcNow));
        string Refusal(System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
        {
            var context = new DefaultHttpContext();
            context.Connection.ClientCertificate = certificate;
            return verdicts.DescribeRefusal(context);
        }

        Assert.Equal(ClientCertificateVerdicts.RequiredMessage, Refusal(null));
        Assert.Equal("The client certificate 'CN=stranger' is not issued by the server's client CA.", Refusal(_certificates.ClientOfOtherCa));
        Assert.StartsWith("The client certificate 'CN=server-usage-only' is not for client authentication", Refusal(_certificates.ServerOnlyUsageClient), StringComparison.Ordinal);
        Assert.StartsWith("The client certificate 'CN=expired-client' is not valid now", Refusal(_certificates.ExpiredClient), StringComparison.Ordinal);
    }
}
