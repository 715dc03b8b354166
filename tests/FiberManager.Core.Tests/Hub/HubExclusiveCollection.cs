namespace FiberManager.Core.Tests.Hub;

/// <summary>
/// Hub tests that must not share the machine with other tests: the ones that read process-wide memory
/// figures, and the stress and race tests whose threads (spinning publishers, barriers) would otherwise
/// compete for the CPUs with everything else and make both slow. xUnit runs this collection alone,
/// after the parallel ones.
/// </summary>
[CollectionDefinition(nameof(HubExclusiveCollection), DisableParallelization = true)]
public sealed class HubExclusiveCollection;
