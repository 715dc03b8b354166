using FiberManager.Protocol.V1;
using Google.Protobuf.Reflection;

namespace FiberManager.Protocol.Tests;

/// <summary>
/// The fixed names of DESIGN.md ("The contract's fixed names"), checked against the descriptors
/// protoc generated: renaming or renumbering any of them fails here.
/// </summary>
public class ContractNamesTests
{
    private static readonly ServiceDescriptor s_service =
        FibermanagerReflection.Descriptor.FindTypeByName<ServiceDescriptor>("FiberManager");

    [Fact]
    public void Package_IsFibermanagerV1()
    {
        Assert.Equal("fibermanager.v1", FibermanagerReflection.Descriptor.Package);
        Assert.Equal("fibermanager.v1", FiberReflection.Descriptor.Package);
        Assert.Equal("fibermanager.v1", EventReflection.Descriptor.Package);
        Assert.Equal("fibermanager.v1.FiberManager", s_service.FullName);
    }

    [Theory]
    [InlineData("Start", "StartRequest", "StartResponse")]
    [InlineData("Submit", "SubmitRequest", "SubmitResponse")]
    [InlineData("Pause", "PauseRequest", "PauseResponse")]
    [InlineData("Resume", "ResumeRequest", "ResumeResponse")]
    [InlineData("Interrupt", "InterruptRequest", "InterruptResponse")]
    [InlineData("GetStatus", "GetStatusRequest", "FiberInfo")]
    [InlineData("ListFibers", "ListFibersRequest", "ListFibersResponse")]
    [InlineData("ListWorkflows", "ListWorkflowsRequest", "ListWorkflowsResponse")]
    public void UnaryMethod_Exists(string name, string input, string output)
    {
        MethodDescriptor method = s_service.FindMethodByName(name);
        Assert.NotNull(method);
        Assert.False(method.IsClientStreaming);
        Assert.False(method.IsServerStreaming);
        Assert.Equal("fibermanager.v1." + input, method.InputType.FullName);
        Assert.Equal("fibermanager.v1." + output, method.OutputType.FullName);
    }

    [Fact]
    public void Subscribe_IsServerStreamingOfFiberEvent()
    {
        MethodDescriptor method = s_service.FindMethodByName("Subscribe");
        Assert.NotNull(method);
        Assert.False(method.IsClientStreaming);
        Assert.True(method.IsServerStreaming);
        Assert.Equal(SubscribeRequest.Descriptor, method.InputType);
        Assert.Equal(FiberEvent.Descriptor, method.OutputType);
    }

    [Fact]
    public void Service_HasExactlyTheFixedMethods()
    {
        Assert.Equal(
            ["Start", "Submit", "Pause", "Resume", "Interrupt", "GetStatus", "ListFibers", "ListWorkflows", "Subscribe"],
            s_service.Methods.Select(m => m.Name));
    }

    public static TheoryData<string> FiberTargetingRequests() =>
    [
        "StartRequest", "SubmitRequest", "PauseRequest", "ResumeRequest",
        "InterruptRequest", "GetStatusRequest", "SubscribeRequest",
    ];

    [Theory]
    [MemberData(nameof(FiberTargetingRequests))]
    public void FiberTargetingRequest_HasStringFiberIdOne(string message)
    {
        AssertField(Message(message), "fiber_id", 1, FieldType.String);
    }

    [Fact]
    public void StartRequest_HasWorkflowAndStructArgs()
    {
        AssertField(StartRequest.Descriptor, "workflow", 2, FieldType.String);
        FieldDescriptor args = AssertField(StartRequest.Descriptor, "args", 3, FieldType.Message);
        Assert.Equal("google.protobuf.Struct", args.MessageType.FullName);
    }

    [Fact]
    public void Payload_IsOneofKindOfJsonValueAndBinary()
    {
        OneofDescriptor kind = Assert.Single(Payload.Descriptor.Oneofs);
        Assert.Equal("kind", kind.Name);
        FieldDescriptor json = AssertField(Payload.Descriptor, "json", 1, FieldType.Message);
        Assert.Equal("google.protobuf.Value", json.MessageType.FullName);
        FieldDescriptor binary = AssertField(Payload.Descriptor, "binary", 2, FieldType.Bytes);
        Assert.Same(kind, json.ContainingOneof);
        Assert.Same(kind, binary.ContainingOneof);
    }

    [Fact]
    public void SubmitRequest_InputIsPayload()
    {
        FieldDescriptor input = AssertField(SubmitRequest.Descriptor, "input", 2, FieldType.Message);
        Assert.Equal(Payload.Descriptor, input.MessageType);
    }

    [Fact]
    public void FiberInfo_HasIdWorkflowStatus()
    {
        AssertField(FiberInfo.Descriptor, "fiber_id", 1, FieldType.String);
        AssertField(FiberInfo.Descriptor, "workflow", 2, FieldType.String);
        FieldDescriptor status = AssertField(FiberInfo.Descriptor, "status", 3, FieldType.Enum);
        Assert.Equal(FiberReflection.Descriptor.EnumTypes.Single(e => e.Name == "FiberStatus"), status.EnumType);
    }

    [Theory]
    [InlineData("StartResponse")]
    [InlineData("PauseResponse")]
    [InlineData("ResumeResponse")]
    [InlineData("InterruptResponse")]
    public void Response_CarriesFiberInfoAsFiber(string message)
    {
        FieldDescriptor fiber = AssertField(Message(message), "fiber", 1, FieldType.Message);
        Assert.Equal(FiberInfo.Descriptor, fiber.MessageType);
    }

    [Fact]
    public void FiberStatus_HasExactlyTheFixedValues()
    {
        Assert.Equal(
            [
                ("FIBER_STATUS_UNSPECIFIED", 0),
                ("FIBER_STATUS_PENDING", 1),
                ("FIBER_STATUS_IDLE", 2),
                ("FIBER_STATUS_RUNNING", 3),
                ("FIBER_STATUS_PAUSED", 4),
                ("FIBER_STATUS_BACKING_OFF", 5),
                ("FIBER_STATUS_COMPLETED", 6),
                ("FIBER_STATUS_FAILED", 7),
                ("FIBER_STATUS_INTERRUPTED", 8),
            ],
            FiberReflection.Descriptor.EnumTypes.Single(e => e.Name == "FiberStatus").Values.Select(v => (v.Name, v.Number)));
    }

    [Fact]
    public void SubscribeRequest_HasUint64FromSequence()
    {
        AssertField(SubscribeRequest.Descriptor, "from_sequence", 2, FieldType.UInt64);
    }

    [Fact]
    public void FiberEvent_HasSequenceTimeAndEventOneof()
    {
        AssertField(FiberEvent.Descriptor, "sequence", 1, FieldType.UInt64);
        FieldDescriptor time = AssertField(FiberEvent.Descriptor, "time", 2, FieldType.Message);
        Assert.Equal("google.protobuf.Timestamp", time.MessageType.FullName);

        OneofDescriptor oneof = Assert.Single(FiberEvent.Descriptor.Oneofs);
        Assert.Equal("event", oneof.Name);
        Assert.Equal(
            [("output", "fibermanager.v1.Payload"), ("status_changed", "fibermanager.v1.StatusChanged"),
             ("terminated", "fibermanager.v1.Terminated"), ("gap", "fibermanager.v1.Gap")],
            oneof.Fields.Select(f => (f.Name, f.MessageType.FullName)));
    }

    [Fact]
    public void EveryEnum_StartsWithPrefixedUnspecified()
    {
        IEnumerable<EnumDescriptor> enums = new[] { FiberReflection.Descriptor, EventReflection.Descriptor, FibermanagerReflection.Descriptor }
            .SelectMany(f => f.EnumTypes);
        foreach (EnumDescriptor e in enums)
        {
            string prefix = string.Concat(e.Name.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : c.ToString())).ToUpperInvariant() + "_";
            Assert.Equal(prefix + "UNSPECIFIED", e.Values[0].Name);
            Assert.Equal(0, e.Values[0].Number);
            Assert.All(e.Values, v => Assert.StartsWith(prefix, v.Name, StringComparison.Ordinal));
        }
    }

    private static MessageDescriptor Message(string name) =>
        FibermanagerReflection.Descriptor.FindTypeByName<MessageDescriptor>(name)
        ?? throw new InvalidOperationException($"No message {name}.");

    private static FieldDescriptor AssertField(MessageDescriptor message, string name, int number, FieldType type)
    {
        FieldDescriptor? field = message.FindFieldByName(name);
        Assert.True(field is not null, $"{message.FullName} has no field {name}.");
        Assert.Equal(number, field.FieldNumber);
        Assert.Equal(type, field.FieldType);
        Assert.False(field.IsRepeated);
        return field;
    }
}
