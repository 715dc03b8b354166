using FiberManager.Core.Management;
using FiberManager.Protocol;
using FiberManager.Service.Hosting;
using FiberManager.Service.Security;
using FiberManager.Service.Workflows;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Grpc;

/// <summary>
/// <c>fibermanager.v1.FiberManager</c>, the generated base implemented once: each RPC validates its
/// request, calls the manager and maps the result. Failures are thrown as they are (the manager's
/// <see cref="FiberSupervisorException"/>, <see cref="ArgumentException"/>, or an
/// <see cref="RpcException"/> built by <see cref="GrpcErrorMapper"/> for the few the service itself
/// detects); <see cref="ErrorMappingInterceptor"/> turns them into statuses.
/// </summary>
/// <remarks>
/// Deadlines and client cancellation arrive as <see cref="ServerCallContext.CancellationToken"/>.
/// Subscribe streams are not cancelled when the host stops: the manager's shutdown
/// (<see cref="ManagerLifetime"/>) ends every fiber and delivers its terminated event, after which
/// the stream ends with OK.
/// </remarks>
internal sealed class FiberManagerGrpcService(
    FiberSupervisor<V1.Payload, V1.Payload> manager,
    WorkflowRegistry workflows,
    IOptions<ServerOptions> serverOptions,
    IServiceProvider services,
    ILoggerFactory loggerFactory) : V1.FiberManager.FiberManagerBase
{
    private readonly int _maxInputSize = serverOptions.Value.EffectiveMaxInputSize;
    private readonly int _maxMessageSize = serverOptions.Value.MaxMessageSize;
    private readonly ILogger _logger = loggerFactory.CreateLogger(GrpcLog.Category);

    public override async Task<V1.StartResponse> Start(V1.StartRequest request, ServerCallContext context)
    {
        FiberId.Validate(request.FiberId);
        if (!workflows.TryGet(request.Workflow, out var registration))
        {
            throw GrpcErrorMapper.WithReason(
                StatusCode.NotFound,
                ErrorReasons.WorkflowNotFound,
                $"No workflow named '{request.Workflow}' (ListWorkflows shows the registered ones).",
                new() { [ErrorMetadataKeys.Workflow] = request.Workflow });
        }

        var args = request.Args ?? new Struct();
        var options = FiberMapping.ToStartOptions(request, args);
        if (ApiKeyIdentity.Of(context.GetHttpContext().User) is { } caller)
        {
            options = options with { Owner = caller.Name, MaxFibersPerOwner = caller.MaxFibers };
        }

        IWorkflow<V1.Payload, V1.Payload> workflow;
        try
        {
            workflow = registration.Create(services, args);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(e.Message, "args", e);
        }

        var result = await manager.StartAsync(request.FiberId, registration.Name, workflow, options, context.CancellationToken).ConfigureAwait(false);
        return new V1.StartResponse { Fiber = FiberMapping.ToProto(result.Fiber), Created = result.Created };
    }

    public override async Task<V1.SubmitResponse> Submit(V1.SubmitRequest request, ServerCallContext context)
    {
        if (request.Input is null || request.Input.KindCase == V1.Payload.KindOneofCase.None)
        {
            throw new ArgumentException("input must be set (json or binary).", "input");
        }

        if (request.SubmitId.Length > 128)
        {
            throw new ArgumentException("submit_id must be at most 128 characters.", "submit_id");
        }

        var inputSize = request.Input.CalculateSize();
        if (inputSize > _maxInputSize)
        {
            throw GrpcErrorMapper.WithReason(
                StatusCode.InvalidArgument,
                ErrorReasons.InputTooLarge,
                $"The input is {inputSize} bytes; this server accepts inputs of at most {_maxInputSize} bytes (FiberManager:Server:MaxInputSize).",
                new()
                {
                    [ErrorMetadataKeys.Field] = "input",
                    [ErrorMetadataKeys.InputSize] = GrpcErrorMapper.Format(inputSize),
                    [ErrorMetadataKeys.MaxInputSize] = GrpcErrorMapper.Format(_maxInputSize),
                });
        }

        var result = await manager.SubmitAsync(
            request.FiberId,
            request.Input,
            FiberMapping.ToFullQueueMode(request.QueueFullPolicy),
            request.SubmitId.Length == 0 ? null : request.SubmitId,
            context.CancellationToken).ConfigureAwait(false);
        return new V1.SubmitResponse { Sequence = result.Sequence, QueueDepth = (uint)result.QueueDepth, Duplicate = result.Duplicate };
    }

    public override Task<V1.PauseResponse> Pause(V1.PauseRequest request, ServerCallContext context) =>
        Task.FromResult(new V1.PauseResponse { Fiber = FiberMapping.ToProto(manager.Pause(request.FiberId)) });

    public override Task<V1.ResumeResponse> Resume(V1.ResumeRequest request, ServerCallContext context) =>
        Task.FromResult(new V1.ResumeResponse { Fiber = FiberMapping.ToProto(manager.Resume(request.FiberId)) });

    public override async Task<V1.InterruptResponse> Interrupt(V1.InterruptRequest request, ServerCallContext context)
    {
        TimeSpan? grace = request.Grace is null ? null : FiberMapping.ToTimeSpan(request.Grace, "grace");
        var info = await manager.InterruptAsync(request.FiberId, grace, context.CancellationToken).ConfigureAwait(false);
        return new V1.InterruptResponse { Fiber = FiberMapping.ToProto(info) };
    }

    public override Task<V1.FiberInfo> GetStatus(V1.GetStatusRequest request, ServerCallContext context) =>
        Task.FromResult(FiberMapping.ToProto(manager.GetStatus(request.FiberId)));

    public override Task<V1.ListFibersResponse> ListFibers(V1.ListFibersRequest request, ServerCallContext context)
    {
        // FIBER_STATUS_UNSPECIFIED matches nothing (the contract), so a filter of only that
        // value matches no fiber at all; it must not fall back to "any status".
        var statuses = request.Statuses.Where(s => s != V1.FiberStatus.Unspecified).Select(FiberMapping.FromProto).ToList();
        if (request.Statuses.Count > 0 && statuses.Count == 0)
        {
            return Task.FromResult(new V1.ListFibersResponse());
        }

        var page = manager.List(new FiberQuery
        {
            Statuses = statuses.Count == 0 ? null : statuses,
            Workflow = request.Workflow.Length == 0 ? null : request.Workflow,
            Labels = request.Labels.Count == 0 ? null : request.Labels,
            PageSize = (int)Math.Min(request.PageSize, int.MaxValue),
            PageToken = request.PageToken.Length == 0 ? null : request.PageToken,
        });
        var response = new V1.ListFibersResponse { NextPageToken = page.NextPageToken, TotalSize = (uint)page.TotalSize };
        response.Fibers.Add(page.Fibers.Select(FiberMapping.ToProto));
        return Task.FromResult(response);
    }

    public override Task<V1.ListWorkflowsResponse> ListWorkflows(V1.ListWorkflowsRequest request, ServerCallContext context)
    {
        var response = new V1.ListWorkflowsResponse();
        response.Workflows.Add(workflows.All.Select(w => new V1.WorkflowInfo { Name = w.Name, Description = w.Description }));
        return Task.FromResult(response);
    }

    public override async Task Subscribe(V1.SubscribeRequest request, IServerStreamWriter<V1.FiberEvent> responseStream, ServerCallContext context)
    {
        var last = manager.GetStatus(request.FiberId).LastSequence;
        if (request.FromSequence > last)
        {
            throw GrpcErrorMapper.WithReason(
                StatusCode.OutOfRange,
                ErrorReasons.SequenceOutOfRange,
                $"from_sequence {request.FromSequence} is beyond the fiber's last sequence {last}.",
                new() { [ErrorMetadataKeys.FiberId] = request.FiberId, [ErrorMetadataKeys.LastSequence] = GrpcErrorMapper.Format((long)last) });
        }

        using var subscription = manager.Subscribe(request.FiberId, request.FromSequence);
        await foreach (var e in subscription.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var message = FiberMapping.ToProto(e);

            // A workflow may publish outputs of any size, and grpc-dotnet fails the whole call on a
            // message above MaxSendMessageSize. Checking the size first (the limit is the same
            // option) keeps the stream going: the subscriber learns it missed exactly this event.
            var size = message.CalculateSize();
            if (size > _maxMessageSize)
            {
                Telemetry.ServiceDiagnostics.SubscribeEventsTooLarge.Add(1);
                GrpcLog.EventTooLarge(_logger, request.FiberId, message.Sequence, size, _maxMessageSize);
                message = new V1.FiberEvent
                {
                    Sequence = message.Sequence,
                    Time = message.Time,
                    Gap = new V1.Gap { FromSequence = message.Sequence, ToSequence = message.Sequence },
                };
            }

            await responseStream.WriteAsync(message, context.CancellationToken).ConfigureAwait(false);
        }
    }
}
