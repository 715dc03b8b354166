namespace FiberManager.Core.Management;

/// <summary>Tells a <see cref="WorkflowInput{T}"/> whether its read loop should yield its thread now (see its pacing remark).</summary>
internal interface IReadPacing
{
    /// <summary>True while someone the read loop's work feeds has fallen behind (a subscriber of the fiber's outputs).</summary>
    bool ShouldYield { get; }
}
