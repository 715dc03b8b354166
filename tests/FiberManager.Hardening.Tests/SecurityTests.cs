using System.Net;
using FiberManager.Protocol;
using Grpc.Core;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests;

/// <summary>A service with two API keys (one read-only) and a per-key token bucket of 50 calls per hour.</summary>
public sealed class SecuredServiceFixture : IAsyncLifetime
{
    public const string ControlKey = "control-key-0123456789abcdef";
    public const string ReadKey = "read-only-key-0123456789abcdef";
    public const string LimitedKey = "limited-key-0123456789abcdef";
    public const int Burst = 50;

    public ServiceHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await ServiceHost.StartAsync(new Dictionary<string, string?>
    {
        ["FiberManager:Security:ApiKeys:0:Key"] = ControlKey,
        ["FiberManager:Security:ApiKeys:0:Name"] = "operator",
        ["FiberManager:Security:ApiKeys:0:Permissions"] = "Read, Control",
        ["FiberManager:Security:ApiKeys:1:Key"] = ReadKey,
        ["FiberManager:Security:ApiKeys:1:Name"] = "dashboard",
        ["FiberManager:Security:ApiKeys:1:Permissions"] = "Read",
        ["FiberManager:Security:ApiKeys:2:Key"] = LimitedKey,
        ["FiberManager:Security:ApiKeys:2:Name"] = "limited",
        ["FiberManager:Security:ApiKeys:2:Permissions"] = "Read",
        ["FiberManager:Security:RateLimit:Burst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["FiberManager:Security:RateLimit:PermitsPerPeriod"] = "1",
        ["FiberManager:Security:RateLimit:Period"] = "01:00:00",
    });

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class SecurityTests(SecuredServiceFixture fixture) : IClassFixture<SecuredServiceFixture>
{
    private RawGrpcClient Raw => fixture.Host.Raw;

    private static string NewId() => "sec-" + Guid.NewGuid().ToString("N");

    private static Action<HttpRequestMessage> Bearer(string key) => r => r.Headers.TryAddWithoutValidation("authorization", "Bearer " + key);

    private static Action<HttpRequestMessage> ApiKey(string key) => r => r.Headers.TryAddWithoutValidation("x-api-key", key);

    private static void AssertStatus(RawResult result, StatusCode expected) =>
        Assert.True(result.HttpStatus == HttpStatusCode.OK && result.Status == expected, $"expected {expected}, got {result}");

    [Fact]
    public async Task NoKey_Unauthenticated()
    {
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, new V1.StartRequest { FiberId = NewId(), Workflow = "echo" }), StatusCode.Unauthenticated);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.GetStatusPath, new V1.GetStatusRequest { FiberId = "x" }), StatusCode.Unauthenticated);
    }

    [Theory]
    [InlineData("wrong-key-0123456789abcdef")]
    [InlineData("control-key-0123456789abcdeF")]
    [InlineData("control-key-0123456789abcdef ")]
    [InlineData("x")]
    public async Task UnknownKey_Unauthenticated(string key)
    {
        var id = NewId();
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, new V1.StartRequest { FiberId = id, Workflow = "echo" }, ApiKey(key)), StatusCode.Unauthenticated);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.GetStatusPath, new V1.GetStatusRequest { FiberId = id }, Bearer(SecuredServiceFixture.ControlKey)), StatusCode.NotFound);
    }

    /// <summary>The key is checked before the body is read: a caller without a key learns nothing from malformed frames.</summary>
    [Fact]
    public async Task NoKey_MalformedBody_UnauthenticatedFirst() =>
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, RawGrpcClient.Frame([0xFF], declaredLength: uint.MaxValue)), StatusCode.Unauthenticated);

    /// <summary>Refused before the request message is read: an undecodable one (UNKNOWN once read) still gets the refusal.</summary>
    [Fact]
    public async Task UndecodableBody_RefusedCallersGetTheirRefusal()
    {
        var undecodable = RawGrpcClient.Frame([0xFF, 0xFF, 0xFF, 0xFF]);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, undecodable), StatusCode.Unauthenticated);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, undecodable, ApiKey("wrong-key-0123456789abcdef")), StatusCode.Unauthenticated);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, undecodable, Bearer(SecuredServiceFixture.ReadKey)), StatusCode.PermissionDenied);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, undecodable, Bearer(SecuredServiceFixture.ControlKey)), StatusCode.Unknown);
    }

    [Fact]
    public async Task ControlKey_BearerAndHeader_Allowed()
    {
        var id = NewId();
        AssertStatus(await Raw.CallAsync(RawGrpcClient.StartPath, new V1.StartRequest { FiberId = id, Workflow = "echo" }, Bearer(SecuredServiceFixture.ControlKey)), StatusCode.OK);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.GetStatusPath, new V1.GetStatusRequest { FiberId = id }, ApiKey(SecuredServiceFixture.ControlKey)), StatusCode.OK);
        AssertStatus(await Raw.CallAsync("/fibermanager.v1.FiberManager/Interrupt", new V1.InterruptRequest { FiberId = id }, ApiKey(SecuredServiceFixture.ControlKey)), StatusCode.OK);
    }

    [Theory]
    [InlineData("Start")]
    [InlineData("Submit")]
    [InlineData("Pause")]
    [InlineData("Resume")]
    [InlineData("Interrupt")]
    public async Task ReadOnlyKey_ControlMethod_PermissionDenied(string method)
    {
        var result = await Raw.CallAsync($"/fibermanager.v1.FiberManager/{method}", new V1.GetStatusRequest { FiberId = "x" }, Bearer(SecuredServiceFixture.ReadKey));
        AssertStatus(result, StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task ReadOnlyKey_ReadMethods_Allowed()
    {
        AssertStatus(await Raw.CallAsync("/fibermanager.v1.FiberManager/ListWorkflows", new V1.ListWorkflowsRequest(), Bearer(SecuredServiceFixture.ReadKey)), StatusCode.OK);
        AssertStatus(await Raw.CallAsync(RawGrpcClient.GetStatusPath, new V1.GetStatusRequest { FiberId = "nobody" }, Bearer(SecuredServiceFixture.ReadKey)), StatusCode.NotFound);
    }

    [Fact]
    public async Task HealthAndReflection_OpenWithoutKey()
    {
        AssertStatus(await Raw.CallAsync("/grpc.health.v1.Health/Check", new global::Grpc.Health.V1.HealthCheckRequest()), StatusCode.OK);
        var list = new global::Grpc.Reflection.V1.ServerReflectionRequest { ListServices = "*" };
        AssertStatus(await Raw.CallAsync("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", list), StatusCode.OK);
    }

    [Fact]
    public async Task RateLimit_PerKey_ResourceExhausted()
    {
        for (int i = 0; i < SecuredServiceFixture.Burst; i++)
        {
            AssertStatus(await Raw.CallAsync("/fibermanager.v1.FiberManager/ListWorkflows", new V1.ListWorkflowsRequest(), ApiKey(SecuredServiceFixture.LimitedKey)), StatusCode.OK);
        }

        var refused = await Raw.CallAsync("/fibermanager.v1.FiberManager/ListWorkflows", new V1.ListWorkflowsRequest(), ApiKey(SecuredServiceFixture.LimitedKey));
        AssertStatus(refused, StatusCode.ResourceExhausted);
        Assert.Contains("rate limit", refused.Message, StringComparison.Ordinal);

        // Other keys have their own buckets.
        AssertStatus(await Raw.CallAsync("/fibermanager.v1.FiberManager/ListWorkflows", new V1.ListWorkflowsRequest(), ApiKey(SecuredServiceFixture.ReadKey)), StatusCode.OK);
    }
}

public sealed class SecurityOffTests
{
    [Fact]
    public async Task NoKeysConfigured_EverythingAllowed()
    {
        await using var host = await ServiceHost.StartAsync();
        var result = await host.Raw.CallAsync(RawGrpcClient.StartPath, new V1.StartRequest { FiberId = "open-" + Guid.NewGuid().ToString("N"), Workflow = "echo" });
        Assert.Equal(StatusCode.OK, result.Status);
    }

    [Theory]
    [InlineData("short")]
    public async Task ShortKey_FailsAtStart(string key)
    {
        var start = ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["FiberManager:Security:ApiKeys:0:Key"] = key,
            ["FiberManager:Security:ApiKeys:0:Name"] = "n",
        });
        await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => start);
    }
}
