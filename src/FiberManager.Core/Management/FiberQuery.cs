namespace FiberManager.Core.Management;

/// <summary>A List query: filters (all must match) and paging.</summary>
public sealed record FiberQuery
{
    /// <summary>Only these statuses (empty: any).</summary>
    public IReadOnlyCollection<ManagedFiberStatus>? Statuses { get; init; }

    /// <summary>Only this workflow.</summary>
    public string? Workflow { get; init; }

    /// <summary>Only fibers carrying every one of these labels.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>Page size (0: 100; capped by the manager's maximum).</summary>
    public int PageSize { get; init; }

    /// <summary>
    /// The previous page's <see cref="FiberPage.NextPageToken"/>, with the same filters (the page
    /// size may change); a token reused with other filters is refused.
    /// </summary>
    public string? PageToken { get; init; }
}
