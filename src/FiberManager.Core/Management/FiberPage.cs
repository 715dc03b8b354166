namespace FiberManager.Core.Management;

/// <summary>One page of List, ordered by fiber id.</summary>
/// <param name="Fibers">The fibers on this page.</param>
/// <param name="NextPageToken">The token for the next page; empty on the last page.</param>
/// <param name="TotalSize">How many fibers match the filters in all.</param>
public sealed record FiberPage(IReadOnlyList<FiberInfo> Fibers, string NextPageToken, int TotalSize);
