namespace FiberManager.Core.Management;

/// <summary>
/// List: the fibers a supervisor shows (live, and retained ones whose id has no live fiber),
/// filtered by status, workflow and labels, ordered by id, one page at a time. A page token
/// (<see cref="PageTokens"/>) carries the last id of the previous page and is bound to the filters.
/// </summary>
internal static class FiberListing
{
    /// <summary>The page size when a query asks for none.</summary>
    public const int DefaultPageSize = 100;

    /// <exception cref="FiberSupervisorException">InvalidArgument: a negative page size, or a page token that is not valid for this query.</exception>
    public static FiberPage List<TInput, TOutput>(FiberQuery query, IEnumerable<ManagedFiber<TInput, TOutput>> visible, PageTokens pageTokens, int maxPageSize)
    {
        if (query.PageSize < 0)
        {
            throw FiberSupervisorException.InvalidArgument("The page size must not be negative.", "page_size");
        }

        var pageSize = Math.Min(query.PageSize == 0 ? DefaultPageSize : query.PageSize, maxPageSize);
        var after = pageTokens.Decode(query.PageToken, query);
        var statuses = query.Statuses is { Count: > 0 } s ? new HashSet<ManagedFiberStatus>(s) : null;
        var matching = new List<FiberInfo>();
        foreach (var fiber in visible)
        {
            if (query.Workflow is { Length: > 0 } workflow && fiber.WorkflowName != workflow)
            {
                continue;
            }

            if (query.Labels is { Count: > 0 } labels && !labels.All(l => fiber.Labels.TryGetValue(l.Key, out var v) && v == l.Value))
            {
                continue;
            }

            var info = fiber.Snapshot();
            if (statuses is null || statuses.Contains(info.Status))
            {
                matching.Add(info);
            }
        }

        matching.Sort(static (a, b) => string.CompareOrdinal(a.FiberId, b.FiberId));
        var start = after is null ? 0 : matching.FindIndex(f => string.CompareOrdinal(f.FiberId, after) > 0);
        if (start < 0)
        {
            start = matching.Count;
        }

        var page = matching.Skip(start).Take(pageSize).ToList();
        var next = start + page.Count < matching.Count ? pageTokens.Encode(page[^1].FiberId, query) : string.Empty;
        return new FiberPage(page, next, matching.Count);
    }

    /// <summary>Fibers by status (the <c>fibermanager.fibers</c> gauge).</summary>
    public static IReadOnlyDictionary<ManagedFiberStatus, int> CountByStatus<TInput, TOutput>(IEnumerable<ManagedFiber<TInput, TOutput>> visible)
    {
        var counts = new Dictionary<ManagedFiberStatus, int>();
        foreach (var fiber in visible)
        {
            var status = fiber.Status;
            counts[status] = counts.GetValueOrDefault(status) + 1;
        }

        return counts;
    }
}
