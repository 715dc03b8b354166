using System.Globalization;

namespace FiberManager.Core.Management;

/// <summary>
/// Checks a Start's <see cref="StartOptions"/> against the supervisor's settings, once, before
/// anything is registered; every problem is an <see cref="FiberErrorCode.InvalidArgument"/> naming
/// the request field at fault.
/// </summary>
internal static class StartOptionsValidation
{
    /// <summary>The longest request id (idempotency key).</summary>
    public const int MaxRequestIdLength = 128;

    /// <summary>The longest label key.</summary>
    public const int MaxLabelKeyLength = 63;

    /// <summary>The longest label value.</summary>
    public const int MaxLabelValueLength = 256;

    /// <summary>The most restarts a restart policy may ask for.</summary>
    public const int MaxRestarts = 1_000;

    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromDays(1);

    /// <summary>Validates <paramref name="options"/>; returns the start with every default applied.</summary>
    /// <exception cref="FiberSupervisorException">InvalidArgument, with the field in its metadata.</exception>
    public static ValidatedStart Validate(this StartOptions options, string workflowName, SupervisorSettings settings)
    {
        if (string.IsNullOrWhiteSpace(workflowName))
        {
            throw FiberSupervisorException.InvalidArgument("The workflow name must not be empty.", "workflow");
        }

        var capacity = options.InputCapacity ?? settings.DefaultInputCapacity;
        if (capacity < 1 || capacity > settings.MaxInputCapacity)
        {
            throw FiberSupervisorException.InvalidArgument($"The input capacity must be between 1 and {settings.MaxInputCapacity} (got {capacity}).", "input_capacity");
        }

        if (options.PermitTimeout is { } timeout && timeout < TimeSpan.Zero)
        {
            throw FiberSupervisorException.InvalidArgument("The permit timeout must not be negative.", "permit_timeout");
        }

        ValidateLabels(options.Labels, settings.MaxLabels);

        if (options.MaxFibersPerOwner < 0)
        {
            throw FiberSupervisorException.InvalidArgument($"The per-owner fiber limit must not be negative (got {options.MaxFibersPerOwner}).", "max_fibers_per_owner");
        }

        if (options.RequestId is { Length: > MaxRequestIdLength })
        {
            throw FiberSupervisorException.InvalidArgument($"The request id must be at most {MaxRequestIdLength} characters.", "request_id");
        }

        var restart = options.Restart ?? RestartPolicy.Never;
        if (restart.MaxRestarts < 0 || restart.MaxRestarts > MaxRestarts)
        {
            throw FiberSupervisorException.InvalidArgument($"Max restarts must be between 0 and {MaxRestarts} (got {restart.MaxRestarts}).", "restart_policy.max_restarts");
        }

        if (restart.MaxRestarts > 0 && (restart.InitialBackoff < TimeSpan.Zero || restart.InitialBackoff > s_maxBackoff
            || restart.MaxBackoff < restart.InitialBackoff || restart.MaxBackoff > s_maxBackoff))
        {
            throw FiberSupervisorException.InvalidArgument("The restart backoff must satisfy 0 <= initial <= max <= 1 day.", "restart_policy");
        }

        return new ValidatedStart(workflowName, options, capacity, restart, options.PermitTimeout ?? settings.DefaultPermitTimeout);
    }

    private static void ValidateLabels(IReadOnlyDictionary<string, string>? labels, int maxLabels)
    {
        if (labels is null)
        {
            return;
        }

        if (labels.Count > maxLabels)
        {
            throw FiberSupervisorException.InvalidArgument(string.Create(CultureInfo.InvariantCulture, $"At most {maxLabels} labels are allowed (got {labels.Count})."), "labels");
        }

        foreach (var (key, value) in labels)
        {
            if (string.IsNullOrEmpty(key) || key.Length > MaxLabelKeyLength || value is null || value.Length > MaxLabelValueLength
                || key.Any(char.IsControl) || value.Any(char.IsControl))
            {
                throw FiberSupervisorException.InvalidArgument(
                    $"Label keys must be 1-{MaxLabelKeyLength} characters and values at most {MaxLabelValueLength}, without control characters.", "labels");
            }
        }
    }
}
