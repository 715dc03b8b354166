namespace FiberManager.Core.Management;

/// <summary>
/// The supervisor's invariants across its parts, checked on request (tests, diagnostics) once the
/// supervisor is quiet: each part checks its own at every lock, but these relate the registry,
/// the pending set, the permit pool and the fibers, which change under separate locks.
/// </summary>
/// <remarks>
/// Permits in use equal the fibers holding one; the pending set holds exactly the fibers waiting
/// to be admitted; a replacement never runs while a fiber it replaces is live; retained fibers
/// have ended and at most the retention maximum are kept; an owner's count is exactly its live
/// fibers that have not ended.
/// </remarks>
internal static class SupervisorInvariants
{
    /// <summary>Throws <see cref="InvalidOperationException"/> listing every violation.</summary>
    public static void Check<TInput, TOutput>(FiberRegistry<TInput, TOutput> registry, FiberAdmission<TInput, TOutput> admission, PermitPool permits)
    {
        var errors = new List<string>();
        registry.Inspect(view =>
        {
            var registered = view.Live.Values.Concat(view.Replaced).ToList();

            // Replaced fibers are out of the live map but still hold their permit until they end.
            var holding = registered.Count(f => f.HoldsPermit);
            if (holding != permits.InUse)
            {
                errors.Add($"permits in use ({permits.InUse}) != registered fibers holding one ({holding})");
            }

            var pending = registered.Where(f => f.Phase is ManagedFiberPhase.AwaitingPredecessor or ManagedFiberPhase.Pending).ToHashSet();
            var counted = admission.PendingSnapshot();
            if (counted.Length != pending.Count || !counted.All(pending.Contains))
            {
                errors.Add($"pending set ({counted.Length}) != fibers awaiting admission ({pending.Count})");
            }

            foreach (var old in view.Replaced)
            {
                if (view.Live.TryGetValue(old.Id, out var successor) && successor.HasRun && !old.HasEnded)
                {
                    errors.Add($"fiber {old.Id} runs its replacement before the replaced one ended");
                }
            }

            foreach (var fiber in view.Retained.Values)
            {
                if (!fiber.HasEnded)
                {
                    errors.Add($"retained fiber {fiber.Id} is {fiber.Status}");
                }
            }

            foreach (var (owner, fibers) in view.ByOwner)
            {
                foreach (var fiber in fibers)
                {
                    if (fiber.HasEnded || !registered.Contains(fiber))
                    {
                        errors.Add($"owner {owner} still counts fiber {fiber.Id} ({fiber.Phase})");
                    }
                }
            }

            foreach (var fiber in view.Live.Values)
            {
                if (fiber.Owner is { } owner && !fiber.HasEnded && !(view.ByOwner.TryGetValue(owner, out var fibers) && fibers.Contains(fiber)))
                {
                    errors.Add($"live fiber {fiber.Id} does not count for its owner {owner}");
                }
            }

            if (view.Retained.Count > view.RetentionMaxCount)
            {
                errors.Add($"retained {view.Retained.Count} > {view.RetentionMaxCount}");
            }
        });

        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Fiber supervisor invariants violated: " + string.Join("; ", errors));
        }
    }
}
