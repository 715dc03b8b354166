using FiberManager.Core.Management;
using FiberManager.Protocol;
using FiberManager.Service.Workflows;
using Google.Protobuf.WellKnownTypes;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Grpc;

/// <summary>
/// <c>fibermanager.v1.FiberManager</c>: each RPC validates its request, calls the manager, and
/// maps the result. Errors are thrown and become statuses in <see cref="GrpcErrorMapper"/>.
/// </summary>
internal sealed class FiberManagerRpc(FiberSupervisor<V1.Payload, V1.Payload> manager, WorkflowRegistry workflows, GrpcServerContext server, IServiceProvider services) : IGrpcService
{
    public const string ServiceName = "fibermanager.v1.FiberManager";

    public void Register(GrpcMethodTable table)
    {
        table.AddUnary<V1.StartRequest, V1.StartResponse>(ServiceName, "Start", V1.StartRequest.Parser, StartAsync);
        table.AddUnary<V1.SubmitRequest, V1.SubmitResponse>(ServiceName, "Submit", V1.SubmitRequest.Parser, SubmitAsync);
        table.AddUnary<V1.PauseRequest, V1.PauseResponse>(ServiceName, "Pause", V1.PauseRequest.Parser, (r, _) => new(new V1.PauseResponse { Fiber = FiberMapping.ToProto(manager.Pause(r.FiberId)) }));
        table.AddUnary<V1.ResumeRequest, V1.ResumeResponse>(ServiceName, "Resume", V1.ResumeRequest.Parser, (r, _) => new(new V1.ResumeResponse { Fiber = FiberMapping.ToProto(manager.Resume(r.FiberId)) }));
        table.AddUnary<V1.InterruptRequest, V1.InterruptResponse>(ServiceName, "Interrupt", V1.InterruptRequest.Parser, InterruptAsync);
        table.AddUnary<V1.GetStatusRequest, V1.FiberInfo>(ServiceName, "GetStatus", V1.GetStatusRequest.Parser, (r, _) => new(FiberMapping.ToProto(manager.GetStatus(r.FiberId))));
        table.AddUnary<V1.ListFibersRequest, V1.ListFibersResponse>(ServiceName, "ListFibers", V1.ListFibersRequest.Parser, (r, _) => new(ListFibers(r)));
        table.AddUnary<V1.ListWorkflowsRequest, V1.ListWorkflowsResponse>(ServiceName, "ListWorkflows", V1.ListWorkflowsRequest.Parser, (_, _) => new(ListWorkflows()));
        // Subscribe streams are not cancelled when the host stops: the manager's shutdown
        // (ManagerLifetime) ends every fiber and delivers its terminated event, after which the
        // stream ends with OK. Cancelling them on ApplicationStopping raced those last events
        // and ended streams with UNAVAILABLE instead.
        table.AddServerStreaming<V1.SubscribeRequest, V1.FiberEvent>(ServiceName, "Subscribe", V1.SubscribeRequest.Parser, SubscribeAsync, endsOnServerStop: false);
    }

    private async ValueTask<V1.StartResponse> StartAsync(V1.StartRequest request, GrpcCallContext call)
    {
        FiberId.Validate(request.FiberId);
        if (!workflows.TryGet(request.Workflow, out var registration))
        {
            throw GrpcStatusException.WithReason(
                GrpcStatusCode.NotFound,
                ErrorReasons.WorkflowNotFound,
                $"No workflow named '{request.Workflow}' (ListWorkflows shows the registered ones).",
                new Dictionary<string, string> { [ErrorMetadataKeys.Workflow] = request.Workflow });
        }

        var args = request.Args ?? new Struct();
        var options = FiberMapping.ToStartOptions(request, args);
        if (call.Caller is { } caller)
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

        var result = await manager.StartAsync(request.FiberId, registration.Name, workflow, options, call.CancellationToken).ConfigureAwait(false);
        return new V1.StartResponse { Fiber = FiberMapping.ToProto(result.Fiber), Created = result.Created };
    }

    private async ValueTask<V1.SubmitResponse> SubmitAsync(V1.SubmitRequest request, GrpcCallContext call)
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
        if (inputSize > server.Settings.MaxInputSize)
        {
            throw InputTooLarge(inputSize);
        }

        var result = await manager.SubmitAsync(
            request.FiberId,
            request.Input,
            FiberMapping.ToFullQueueMode(request.QueueFullPolicy),
            request.SubmitId.Length == 0 ? null : request.SubmitId,
            call.CancellationToken).ConfigureAwait(false);
        return new V1.SubmitResponse { Sequence = result.Sequence, QueueDepth = (uint)result.QueueDepth, Duplicate = result.Duplicate };
    }

    private async ValueTask<V1.InterruptResponse> InterruptAsync(V1.InterruptRequest request, GrpcCallContext call)
    {
        TimeSpan? grace = request.Grace is null ? null : FiberMapping.ToTimeSpan(request.Grace, "grace");
        var info = await manager.InterruptAsync(request.FiberId, grace, call.CancellationToken).ConfigureAwait(false);
        return new V1.InterruptResponse { Fiber = FiberMapping.ToProto(info) };
    }

    private V1.ListFibersResponse ListFibers(V1.ListFibersRequest request)
    {
        // FIBER_STATUS_UNSPECIFIED matches nothing (the contract), so a filter of only that
        // value matches no fiber at all; it must not fall back to "any status".
        var statuses = request.Statuses.Where(s => s != V1.FiberStatus.Unspecified).Select(FiberMapping.FromProto).ToList();
        if (request.Statuses.Count > 0 && statuses.Count == 0)
        {
            return new V1.ListFibersResponse();
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
        return response;
    }

    private V1.ListWorkflowsResponse ListWorkflows()
    {
        var response = new V1.ListWorkflowsResponse();
        response.Workflows.Add(workflows.All.Select(w => new V1.WorkflowInfo { Name = w.Name, Description = w.Description }));
        return response;
    }

    private async Task SubscribeAsync(V1.SubscribeRequest request, IServerStreamWriter<V1.FiberEvent> writer, GrpcCallContext call)
    {
        var last = manager.GetStatus(request.FiberId).LastSequence;
        if (request.FromSequence > last)
        {
            throw GrpcStatusException.WithReason(
                GrpcStatusCode.OutOfRange,
                ErrorReasons.SequenceOutOfRange,
                $"from_sequence {request.FromSequence} is beyond the fiber's last sequence {last}.",
                new Dictionary<string, string> { [ErrorMetadataKeys.FiberId] = request.FiberId, [ErrorMetadataKeys.LastSequence] = GrpcErrorMapper.Format((long)last) });
        }

        using var subscription = manager.Subscribe(request.FiberId, request.FromSequence);
        await foreach (var e in subscription.ReadAllAsync(call.CancellationToken).ConfigureAwait(false))
        {
            var message = FiberMapping.ToProto(e);
            try
            {
                await writer.WriteAsync(message, call.CancellationToken).ConfigureAwait(false);
            }
            catch (GrpcStatusException tooLarge) when (tooLarge.StatusCode == GrpcStatusCode.ResourceExhausted && message.EventCase != V1.FiberEvent.EventOneofCase.Gap)
            {
                // The framing refused the event before writing anything (it is above the message
                // size limit: a workflow may publish outputs of any size). The subscriber learns
                // it missed exactly this event, and the stream goes on.
                Telemetry.ServiceDiagnostics.SubscribeEventsTooLarge.Add(1);
                GrpcLog.EventTooLarge(server.Logger, request.FiberId, message.Sequence, message.CalculateSize(), server.Settings.MaxMessageSize);
                var gap = new V1.FiberEvent
                {
                    Sequence = message.Sequence,
                    Time = message.Time,
                    Gap = new V1.Gap { FromSequence = message.Sequence, ToSequence = message.Sequence },
                };
                await writer.WriteAsync(gap, call.CancellationToken).ConfigureAwait(false);
            }
        }
    }

    private GrpcStatusException InputTooLarge(int inputSize)
    {
        var max = server.Settings.MaxInputSize;
        return GrpcStatusException.WithReason(
            GrpcStatusCode.InvalidArgument,
            ErrorReasons.InputTooLarge,
            $"The input is {inputSize} bytes; this server accepts inputs of at most {max} bytes (FiberManager:Server:MaxInputSize).",
            new Dictionary<string, string>
            {
                [ErrorMetadataKeys.Field] = "input",
                [ErrorMetadataKeys.InputSize] = GrpcErrorMapper.Format(inputSize),
                [ErrorMetadataKeys.MaxInputSize] = GrpcErrorMapper.Format(max),
            });
    }
}
