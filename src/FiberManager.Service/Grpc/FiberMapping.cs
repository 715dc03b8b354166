using FiberManager.Core.Management;
using Google.Protobuf.WellKnownTypes;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Service.Grpc;

/// <summary>Translations between the contract's messages and the manager's types.</summary>
internal static class FiberMapping
{
    public static V1.FiberStatus ToProto(ManagedFiberStatus status) => status switch
    {
        ManagedFiberStatus.Pending => V1.FiberStatus.Pending,
        ManagedFiberStatus.Idle => V1.FiberStatus.Idle,
        ManagedFiberStatus.Running => V1.FiberStatus.Running,
        ManagedFiberStatus.Paused => V1.FiberStatus.Paused,
        ManagedFiberStatus.BackingOff => V1.FiberStatus.BackingOff,
        ManagedFiberStatus.Completed => V1.FiberStatus.Completed,
        ManagedFiberStatus.Failed => V1.FiberStatus.Failed,
        ManagedFiberStatus.Interrupted => V1.FiberStatus.Interrupted,
        _ => V1.FiberStatus.Unspecified,
    };

    public static ManagedFiberStatus FromProto(V1.FiberStatus status) => status switch
    {
        V1.FiberStatus.Pending => ManagedFiberStatus.Pending,
        V1.FiberStatus.Idle => ManagedFiberStatus.Idle,
        V1.FiberStatus.Running => ManagedFiberStatus.Running,
        V1.FiberStatus.Paused => ManagedFiberStatus.Paused,
        V1.FiberStatus.BackingOff => ManagedFiberStatus.BackingOff,
        V1.FiberStatus.Completed => ManagedFiberStatus.Completed,
        V1.FiberStatus.Failed => ManagedFiberStatus.Failed,
        V1.FiberStatus.Interrupted => ManagedFiberStatus.Interrupted,
        _ => throw new ArgumentException($"statuses: {status} is not a fiber status.", "statuses"),
    };

    public static V1.FiberInfo ToProto(FiberInfo info)
    {
        var proto = new V1.FiberInfo
        {
            FiberId = info.FiberId,
            Workflow = info.Workflow,
            Status = ToProto(info.Status),
            CreateTime = Timestamp.FromDateTimeOffset(info.CreatedAt),
            QueueDepth = (uint)info.QueueDepth,
            InputCapacity = (uint)info.InputCapacity,
            InputsAccepted = (ulong)info.InputsAccepted,
            InputsProcessed = (ulong)info.InputsProcessed,
            OutputsPublished = (ulong)info.OutputsPublished,
            Subscribers = (uint)info.Subscribers,
            Restarts = (uint)info.Restarts,
            LastError = info.LastError ?? string.Empty,
            LastSequence = info.LastSequence,
        };
        foreach (var (key, value) in info.Labels)
        {
            proto.Labels[key] = value;
        }

        if (info.StartedAt is { } started)
        {
            proto.StartTime = Timestamp.FromDateTimeOffset(started);
        }

        if (info.EndedAt is { } ended)
        {
            proto.EndTime = Timestamp.FromDateTimeOffset(ended);
        }

        if (info.Termination is { } termination)
        {
            proto.Exit = ToProto(termination);
        }

        return proto;
    }

    public static V1.FiberExit ToProto(FiberTermination termination) => new()
    {
        Kind = termination.Status switch
        {
            ManagedFiberStatus.Completed => V1.ExitKind.Succeeded,
            ManagedFiberStatus.Failed => V1.ExitKind.Failed,
            _ => V1.ExitKind.Interrupted,
        },
        Message = termination.Status switch
        {
            ManagedFiberStatus.Failed => termination.ErrorMessage ?? string.Empty,
            ManagedFiberStatus.Interrupted => termination.Abandoned
                ? $"interrupted ({termination.Reason}); the workflow ignored cancellation and was abandoned"
                : $"interrupted ({termination.Reason})",
            _ => string.Empty,
        },
        InputsUnprocessed = (ulong)termination.InputsUnprocessed,
    };

    public static V1.FiberEvent ToProto(FiberEvent<V1.Payload> e)
    {
        var proto = new V1.FiberEvent { Sequence = e.Sequence, Time = Timestamp.FromDateTimeOffset(e.Time) };
        switch (e.Kind)
        {
            case FiberEventKind.Output:
                proto.Output = e.Output;
                break;
            case FiberEventKind.StatusChanged:
                proto.StatusChanged = new V1.StatusChanged { Previous = ToProto(e.PreviousStatus), Current = ToProto(e.Status) };
                break;
            case FiberEventKind.Terminated:
                proto.Terminated = new V1.Terminated { Exit = ToProto(e.Termination!) };
                break;
            case FiberEventKind.Gap:
                proto.Gap = new V1.Gap { FromSequence = e.GapFrom, ToSequence = e.GapTo };
                break;
        }

        return proto;
    }

    public static StartOptions ToStartOptions(V1.StartRequest request, Struct args) => new()
    {
        RequestId = string.IsNullOrEmpty(request.RequestId) ? null : request.RequestId,
        Conflict = request.ConflictPolicy switch
        {
            V1.ConflictPolicy.Unspecified or V1.ConflictPolicy.Fail => IdConflictPolicy.Fail,
            V1.ConflictPolicy.UseExisting => IdConflictPolicy.UseExisting,
            V1.ConflictPolicy.Replace => IdConflictPolicy.Replace,
            _ => throw new ArgumentException($"conflict_policy: unknown value {(int)request.ConflictPolicy}.", "conflict_policy"),
        },
        Admission = request.Admission switch
        {
            V1.AdmissionPolicy.Unspecified or V1.AdmissionPolicy.Wait => AdmissionMode.Wait,
            V1.AdmissionPolicy.Queue => AdmissionMode.Queue,
            V1.AdmissionPolicy.Reject => AdmissionMode.Reject,
            _ => throw new ArgumentException($"admission: unknown value {(int)request.Admission}.", "admission"),
        },
        PermitTimeout = request.PermitTimeout is null ? null : ToTimeSpan(request.PermitTimeout, "permit_timeout"),
        InputCapacity = request.InputCapacity == 0 ? null : (int)Math.Min(request.InputCapacity, int.MaxValue),
        Labels = request.Labels.Count == 0 ? null : request.Labels,
        StartPaused = request.StartPaused,
        BufferWhilePaused = request.BufferWhilePaused,
        Restart = ToRestartPolicy(request.RestartPolicy),
        Args = args,
    };

    public static FullQueueMode ToFullQueueMode(V1.QueueFullPolicy policy) => policy switch
    {
        V1.QueueFullPolicy.Unspecified or V1.QueueFullPolicy.Wait => FullQueueMode.Wait,
        V1.QueueFullPolicy.Reject => FullQueueMode.Reject,
        _ => throw new ArgumentException($"queue_full_policy: unknown value {(int)policy}.", "queue_full_policy"),
    };

    public static TimeSpan ToTimeSpan(Duration duration, string field)
    {
        if (duration.Seconds < 0 || duration.Nanos < 0)
        {
            throw new ArgumentException($"{field} must not be negative.", field);
        }

        if (duration.Seconds > 315_576_000_000L || duration.Nanos > 999_999_999)
        {
            throw new ArgumentException($"{field} is out of range.", field);
        }

        // A longer duration is valid on the wire, but no .NET timer (Task.Delay, WaitAsync) can
        // wait that long: they throw, which surfaced as INVALID_ARGUMENT naming an internal
        // parameter after the fiber had already been interrupted (grace) or left pending (permit
        // timeout). It means "as long as possible"; the call's deadline still bounds any wait.
        var value = duration.ToTimeSpan();
        return value > MaxTimerDuration ? MaxTimerDuration : value;
    }

    /// <summary>The longest wait a .NET timer supports: 2^32 - 2 milliseconds, about 49.7 days.</summary>
    public static readonly TimeSpan MaxTimerDuration = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private static RestartPolicy ToRestartPolicy(V1.RestartPolicy? policy)
    {
        if (policy is null || policy.Mode is V1.RestartMode.Unspecified or V1.RestartMode.Never)
        {
            return RestartPolicy.Never;
        }

        if (policy.Mode != V1.RestartMode.OnFailure)
        {
            throw new ArgumentException($"restart_policy.mode: unknown value {(int)policy.Mode}.", "restart_policy.mode");
        }

        var defaults = new RestartPolicy();
        return new RestartPolicy
        {
            MaxRestarts = (int)Math.Min(policy.MaxRestarts, int.MaxValue),
            InitialBackoff = policy.InitialBackoff is null ? defaults.InitialBackoff : ToTimeSpan(policy.InitialBackoff, "restart_policy.initial_backoff"),
            MaxBackoff = policy.MaxBackoff is null ? defaults.MaxBackoff : ToTimeSpan(policy.MaxBackoff, "restart_policy.max_backoff"),
        };
    }
}
