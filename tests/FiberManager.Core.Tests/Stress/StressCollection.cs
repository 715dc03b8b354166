namespace FiberManager.Core.Tests.Stress;

/// <summary>Stress tests run alone, so they neither starve nor are starved by the rest of the suite.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    public const string Name = "Stress";
}
