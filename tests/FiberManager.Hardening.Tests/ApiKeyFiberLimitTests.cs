using FiberManager.Client;
using FiberManager.Protocol;
using Grpc.Core;
using Microsoft.Extensions.Options;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests;

/// <summary>A service whose API keys each have their own cap on live fibers (<c>ApiKeys:n:MaxFibers</c>); one key per test.</summary>
public sealed class CappedServiceFixture : IAsyncLifetime
{
    public static readonly string[] KeyNames = ["capped", "retry", "first-owner", "second-owner", "parallel", "unlimited"];
    public static readonly int[] MaxFibers = [2, 1, 1, 1, 3, 0];

    public ServiceHost Host { get; private set; } = null!;

    public static string KeyOf(string name) => name + "-key-0123456789abcdef";

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>();
        for (int i = 0; i < KeyNames.Length; i++)
        {
            settings[$"FiberManager:Security:ApiKeys:{i}:Key"] = KeyOf(KeyNames[i]);
            settings[$"FiberManager:Security:ApiKeys:{i}:Name"] = KeyNames[i];
            settings[$"FiberManager:Security:ApiKeys:{i}:Permissions"] = "Read, Control";
            settings[$"FiberManager:Security:ApiKeys:{i}:MaxFibers"] = MaxFibers[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        Host = await ServiceHost.StartAsync(settings);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();

    /// <summary>A client that sends <paramref name="name"/>'s key on every call (the <see cref="FiberManagerClientOptions.ApiKey"/> option).</summary>
    public FiberManagerClient ClientFor(string name) => new(new FiberManagerClientOptions { Address = Host.Address, ApiKey = KeyOf(name) });
}

public sealed class ApiKeyFiberLimitTests(CappedServiceFixture fixture) : IClassFixture<CappedServiceFixture>
{
    private static string NewId() => "cap-" + Guid.NewGuid().ToString("N");

    private static async Task<RpcException> AssertCappedAsync(Task call, string key, int max, int live)
    {
        var refused = await Assert.ThrowsAsync<RpcException>(() => call).DefaultTimeout();
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(ErrorReasons.ApiKeyFiberLimitReached, refused.GetReason());
        Assert.Equal(ErrorReasons.Domain, refused.GetErrorInfo()!.Domain);
        Assert.Equal(key, refused.GetErrorInfo()!.Metadata[ErrorMetadataKeys.ApiKey]);
        Assert.Equal(max.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.GetErrorInfo()!.Metadata[ErrorMetadataKeys.MaxFibers]);
        Assert.Equal(live.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.GetErrorInfo()!.Metadata[ErrorMetadataKeys.LiveFibers]);
        Assert.Equal($"The API key '{key}' already holds {live} live fibers, its MaxFibers limit ({max}): interrupt one or wait for one to end.", refused.Status.Detail);
        return refused;
    }

    [Fact]
    public async Task Start_KeyAtMaxFibers_ResourceExhaustedUntilOneEnds()
    {
        using var client = fixture.ClientFor("capped");
        var first = NewId();
        await client.StartAsync(first, "echo").DefaultTimeout();
        await client.StartAsync(NewId(), "echo").DefaultTimeout();

        var third = NewId();
        var refused = await AssertCappedAsync(client.StartAsync(third, "echo"), "capped", max: 2, live: 2);
        Assert.Equal(third, refused.GetErrorInfo()!.Metadata[ErrorMetadataKeys.FiberId]);
        var notCreated = await Assert.ThrowsAsync<RpcException>(() => client.GetStatusAsync(third)).DefaultTimeout();
        Assert.Equal(ErrorReasons.FiberNotFound, notCreated.GetReason());

        // Another key is not limited by this key's fibers.
        using var other = fixture.ClientFor("unlimited");
        Assert.True((await other.StartAsync(NewId(), "echo").DefaultTimeout()).Created);

        // Interrupt returns once the fiber has ended: its slot is free.
        await client.InterruptAsync(first).DefaultTimeout();
        Assert.True((await client.StartAsync(third, "echo").DefaultTimeout()).Created);
        await AssertCappedAsync(client.StartAsync(NewId(), "echo"), "capped", max: 2, live: 2);
    }

    [Fact]
    public async Task Start_RetriedRequestIdOrUseExisting_AtMaxFibers_ReturnsTheFiber()
    {
        using var client = fixture.ClientFor("retry");
        var id = NewId();
        var request = new V1.StartRequest { FiberId = id, Workflow = "echo", RequestId = "req-1" };
        Assert.True((await client.StartAsync(request).DefaultTimeout()).Created);

        Assert.False((await client.StartAsync(request).DefaultTimeout()).Created);
        Assert.False((await client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = "echo", ConflictPolicy = V1.ConflictPolicy.UseExisting }).DefaultTimeout()).Created);

        await AssertCappedAsync(client.StartAsync(NewId(), "echo"), "retry", max: 1, live: 1);
    }

    [Fact]
    public async Task Start_ReplaceByAnotherKey_MovesTheFiberToThatKey()
    {
        using var first = fixture.ClientFor("first-owner");
        using var second = fixture.ClientFor("second-owner");
        var id = NewId();
        await first.StartAsync(id, "echo").DefaultTimeout();

        var replaced = await second.StartAsync(new V1.StartRequest { FiberId = id, Workflow = "echo", ConflictPolicy = V1.ConflictPolicy.Replace }).DefaultTimeout();

        Assert.True(replaced.Created);
        Assert.True((await first.StartAsync(NewId(), "echo").DefaultTimeout()).Created);
        await AssertCappedAsync(second.StartAsync(NewId(), "echo"), "second-owner", max: 1, live: 1);
    }

    [Fact]
    public async Task Start_ManyInParallelByOneKey_NeverMoreThanMaxFibers()
    {
        using var client = fixture.ClientFor("parallel");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = Enumerable.Range(0, 24).Select(_ => Task.Run(async () =>
        {
            await gate.Task;
            try
            {
                await client.StartAsync(NewId(), "echo");
                return true;
            }
            catch (RpcException e) when (e.GetReason() == ErrorReasons.ApiKeyFiberLimitReached)
            {
                return false;
            }
        })).ToArray();

        gate.SetResult();
        var created = await Task.WhenAll(attempts).DefaultTimeout();

        Assert.Equal(3, created.Count(c => c));
        await AssertCappedAsync(client.StartAsync(NewId(), "echo"), "parallel", max: 3, live: 3);
    }

    [Fact]
    public async Task NegativeMaxFibers_FailsAtStartNamingTheOption()
    {
        var start = ServiceHost.StartAsync(new Dictionary<string, string?>
        {
            ["FiberManager:Security:ApiKeys:0:Key"] = CappedServiceFixture.KeyOf("bad"),
            ["FiberManager:Security:ApiKeys:0:Name"] = "bad",
            ["FiberManager:Security:ApiKeys:0:MaxFibers"] = "-1",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => start).DefaultTimeout();
        Assert.Contains("FiberManager:Security:ApiKeys:0:MaxFibers must be 0 (no limit) or more (got -1).", error.Message, StringComparison.Ordinal);
    }
}
