using FiberManager.Client.Tests.TestSupport;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Client.Tests;

/// <summary>The API key (<c>authorization: Bearer</c>) and default headers on every call, and a call's own header taking their place.</summary>
public sealed class ApiKeyTests(SecuredServiceFixture fixture) : IClassFixture<SecuredServiceFixture>
{
    private FiberManagerClient ClientWith(string? apiKey, string? defaultAuthorization = null)
    {
        var options = new FiberManagerClientOptions { Address = fixture.Host.Address, ApiKey = apiKey };
        if (defaultAuthorization is not null)
        {
            options.DefaultHeaders["Authorization"] = defaultAuthorization;
        }

        return new FiberManagerClient(options);
    }

    [Fact]
    public async Task ClientApiKeyOption_SentOnUnaryAndStreamingCalls_PerCallHeaderOverrides()
    {
        using var client = ClientWith(SecuredServiceFixture.Key);
        var id = Ids.New("key");
        await client.StartAsync(id, "echo").DefaultTimeout();
        await client.SubmitAsync(id, Value.ForString("hi")).DefaultTimeout();
        using var bounded = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var e in client.SubscribeAsync(id, cancellationToken: bounded.Token))
        {
            if (e.EventCase == FiberEvent.EventOneofCase.Output)
            {
                break;
            }
        }

        var wrongKey = new Metadata { { "authorization", "Bearer wrong-key-0123456789abcdef" } };
        var overridden = await Assert.ThrowsAsync<RpcException>(() => client.GetStatusAsync(id, new CallOptions(headers: wrongKey))).DefaultTimeout();
        Assert.Equal(StatusCode.Unauthenticated, overridden.StatusCode);

        using var preferApiKey = ClientWith(SecuredServiceFixture.Key, defaultAuthorization: "Bearer stale-key-0123456789abcdef");
        Assert.Equal(id, (await preferApiKey.GetStatusAsync(id).DefaultTimeout()).FiberId);

        // Without ApiKey, a per-call authorization replaces the default one (sent once, not both).
        using var perCallWins = ClientWith(apiKey: null, defaultAuthorization: "Bearer stale-key-0123456789abcdef");
        var perCall = new Metadata { { "authorization", "Bearer " + SecuredServiceFixture.Key } };
        Assert.Equal(id, (await perCallWins.GetStatusAsync(id, new CallOptions(headers: perCall)).DefaultTimeout()).FiberId);

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => fixture.Host.Client.GetStatusAsync(id)).DefaultTimeout();
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task ApiKeyAndDefaultHeaders_EachSentOnceOnEveryCall_ACallsOwnHeaderReplacesTheDefault()
    {
        var options = new FiberManagerClientOptions { Address = fixture.Host.Address, ApiKey = SecuredServiceFixture.Key };
        options.DefaultHeaders["Authorization"] = "Bearer stale-key-0123456789abcdef";
        options.DefaultHeaders["X-Tenant"] = "blue";
        options.DefaultHeaders["x-region"] = "north";
        using var client = new FiberManagerClient(options);
        var id = Ids.New("headers");

        var start = Ids.New("start");
        await client.StartAsync(id, "echo", options: ServiceFixture.Marked(start)).DefaultTimeout();
        var sent = Assert.Single(fixture.Log.AttemptsOf(start));
        Assert.Equal(["Bearer " + SecuredServiceFixture.Key], sent.Values("authorization"));
        Assert.Equal(["blue"], sent.Values("x-tenant"));
        Assert.Equal(["north"], sent.Values("x-region"));

        var subscribe = Ids.New("subscribe");
        var own = ServiceFixture.MarkedHeaders(subscribe);
        own.Add("x-tenant", "green");
        await using (var events = client.SubscribeAsync(new SubscribeRequest { FiberId = id }, new CallOptions(headers: own)).GetAsyncEnumerator())
        {
            await client.SubmitAsync(id, Value.ForString("x")).DefaultTimeout();
            Assert.True(await events.MoveNextAsync().AsTask().DefaultTimeout());
        }

        sent = Assert.Single(fixture.Log.AttemptsOf(subscribe));
        Assert.Equal(["Bearer " + SecuredServiceFixture.Key], sent.Values("authorization"));
        Assert.Equal(["green"], sent.Values("x-tenant"));
        Assert.Equal(["north"], sent.Values("x-region"));

        var other = Ids.New("other-key");
        var otherKey = ServiceFixture.MarkedHeaders(other);
        otherKey.Add("authorization", "Bearer " + SecuredServiceFixture.OtherKey);
        await client.ListWorkflowsAsync(new CallOptions(headers: otherKey)).DefaultTimeout();
        Assert.Equal(["Bearer " + SecuredServiceFixture.OtherKey], Assert.Single(fixture.Log.AttemptsOf(other)).Values("authorization"));

        await client.InterruptAsync(id).DefaultTimeout();
    }

    [Theory]
    [InlineData("")]
    [InlineData(" padded-key-0123456789abcdef")]
    [InlineData("line\nbreak-0123456789abcdef")]
    public void ClientApiKeyOption_Malformed_Rejected(string key) =>
        Assert.Throws<ArgumentException>(() => new FiberManagerClient(new FiberManagerClientOptions { ApiKey = key }));
}
