using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>The error table of fibermanager.proto: code, reason, domain and metadata per RPC.</summary>
public sealed class ErrorTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    public static TheoryData<string> InvalidIds => new()
    {
        string.Empty,
        "has space",
        "slash/inside",
        "ünïcode",
        new string('a', 129),
    };

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public async Task EveryRpc_InvalidFiberId_InvalidArgumentInvalidFiberId(string id)
    {
        var calls = new Func<Task>[]
        {
            () => Client.StartAsync(id, "echo"),
            () => Client.SubmitAsync(id, Value.ForNumber(1)),
            () => Client.PauseAsync(id),
            () => Client.ResumeAsync(id),
            () => Client.InterruptAsync(id),
            () => Client.GetStatusAsync(id),
            async () =>
            {
                await using var events = new EventReader(Client, id);
                await events.NextAsync();
            },
        };

        foreach (var call in calls)
        {
            var error = await RpcAssert.FailsAsync(call, StatusCode.InvalidArgument, ErrorReasons.InvalidFiberId);
            Assert.Contains("fiber id", error.Status.Detail, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Start_MaxLengthId_Accepted()
    {
        var id = "a.b_c:d-" + new string('z', 120);
        Assert.Equal(128, id.Length);
        Assert.True((await Client.StartAsync(id, "echo").DefaultTimeout()).Created);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task EveryFiberRpc_UnknownFiber_NotFoundFiberNotFound()
    {
        var id = Ids.New("missing");
        var calls = new Func<Task>[]
        {
            () => Client.SubmitAsync(id, Value.ForNumber(1)),
            () => Client.PauseAsync(id),
            () => Client.ResumeAsync(id),
            () => Client.InterruptAsync(id),
            () => Client.GetStatusAsync(id),
        };

        foreach (var call in calls)
        {
            var error = await RpcAssert.FailsAsync(call, StatusCode.NotFound, ErrorReasons.FiberNotFound);
            RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
        }
    }

    [Fact]
    public async Task Start_UnknownWorkflow_NotFoundWorkflowNotFound()
    {
        var id = Ids.New("no-workflow");
        var error = await RpcAssert.FailsAsync(() => Client.StartAsync(id, "no-such-workflow"), StatusCode.NotFound, ErrorReasons.WorkflowNotFound);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Workflow, "no-such-workflow");

        await RpcAssert.FailsAsync(() => Client.StartAsync(id, string.Empty), StatusCode.NotFound, ErrorReasons.WorkflowNotFound);
    }

    [Fact]
    public async Task Start_LiveIdWithDefaultPolicy_AlreadyExistsFiberAlreadyExists()
    {
        var id = Ids.New("exists");
        await Client.StartAsync(id, "echo").DefaultTimeout();

        foreach (var policy in new[] { ConflictPolicy.Unspecified, ConflictPolicy.Fail })
        {
            var error = await RpcAssert.FailsAsync(
                () => Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", ConflictPolicy = policy }),
                StatusCode.AlreadyExists,
                ErrorReasons.FiberAlreadyExists);
            RpcAssert.HasMetadata(error, ErrorMetadataKeys.FiberId, id);
        }

        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Fact]
    public async Task Start_ArgsGivenToEcho_InvalidArgumentFieldArgs()
    {
        var id = Ids.New("echo-args");
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(id, "echo", TestWorkflows.Args(("batch_size", Value.ForNumber(3)))),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "args");
        Assert.Equal("The workflow 'echo' takes no args (got batch_size).", error.Status.Detail);

        // An empty args object is fine.
        Assert.True((await Client.StartAsync(id, "echo", new Struct()).DefaultTimeout()).Created);
        await Client.InterruptAsync(id).DefaultTimeout();
    }

    [Theory]
    [InlineData("conflict_policy")]
    [InlineData("admission")]
    [InlineData("restart_policy.mode")]
    public async Task Start_UnknownEnumValue_InvalidArgumentNamingTheField(string field)
    {
        var request = new StartRequest { FiberId = Ids.New("bad-enum"), Workflow = "echo" };
        switch (field)
        {
            case "conflict_policy":
                request.ConflictPolicy = (ConflictPolicy)99;
                break;
            case "admission":
                request.Admission = (AdmissionPolicy)99;
                break;
            default:
                request.RestartPolicy = new RestartPolicy { Mode = (RestartMode)99 };
                break;
        }

        var error = await RpcAssert.FailsAsync(() => Client.StartAsync(request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, field);
        await RpcAssert.FailsAsync(() => Client.GetStatusAsync(request.FiberId), StatusCode.NotFound, ErrorReasons.FiberNotFound);
    }

    [Fact]
    public async Task Start_NegativePermitTimeout_InvalidArgumentFieldPermitTimeout()
    {
        var error = await RpcAssert.FailsAsync(
            () => Client.StartAsync(new StartRequest { FiberId = Ids.New("bad-permit"), Workflow = "echo", PermitTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(-1)) }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "permit_timeout");
    }

    [Fact]
    public async Task Start_InputCapacityAboveMaximum_InvalidArgument()
    {
        var id = Ids.New("bad-capacity");
        await RpcAssert.FailsAsync(
            () => Client.StartAsync(new StartRequest { FiberId = id, Workflow = "echo", InputCapacity = 1_000_000 }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        await RpcAssert.FailsAsync(() => Client.GetStatusAsync(id), StatusCode.NotFound, ErrorReasons.FiberNotFound);
    }

    [Fact]
    public async Task Errors_MessagesAreReadableAndUnicodeSafe()
    {
        // grpc-message is percent-encoded on the wire; the client decodes it back.
        var error = await RpcAssert.FailsAsync(() => Client.StartAsync(Ids.New("x"), "wörkflow ✓"), StatusCode.NotFound, ErrorReasons.WorkflowNotFound);
        Assert.Contains("wörkflow ✓", error.Status.Detail, StringComparison.Ordinal);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Workflow, "wörkflow ✓");
    }
}
