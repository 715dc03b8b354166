using System.Collections.Frozen;
using FiberManager.Core.Management;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FiberManager.Service.Workflows;

/// <summary>A named workflow the service can start: its description and how to make an instance from Start's args.</summary>
/// <param name="Name">The name clients start it by.</param>
/// <param name="Description">One line for ListWorkflows.</param>
/// <param name="Create">Makes an instance for one Start; throws <see cref="ArgumentException"/> for bad args (the client gets INVALID_ARGUMENT).</param>
public sealed record WorkflowRegistration(string Name, string Description, Func<IServiceProvider, Struct, IWorkflow<Payload, Payload>> Create);

/// <summary>The workflows registered in DI, by name.</summary>
public sealed class WorkflowRegistry
{
    private readonly FrozenDictionary<string, WorkflowRegistration> _byName;

    /// <summary>Collects every <see cref="WorkflowRegistration"/> in DI; a duplicate name is a startup error.</summary>
    public WorkflowRegistry(IEnumerable<WorkflowRegistration> registrations)
    {
        var byName = new Dictionary<string, WorkflowRegistration>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (!byName.TryAdd(registration.Name, registration))
            {
                throw new InvalidOperationException($"Two workflows are registered as '{registration.Name}'.");
            }
        }

        _byName = byName.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>All registrations, ordered by name.</summary>
    public IReadOnlyList<WorkflowRegistration> All => [.. _byName.Values.OrderBy(r => r.Name, StringComparer.Ordinal)];

    /// <summary>The registration called <paramref name="name"/>.</summary>
    public bool TryGet(string name, out WorkflowRegistration registration) => _byName.TryGetValue(name, out registration!);
}

/// <summary>Registers workflows.</summary>
public static class WorkflowServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TWorkflow"/> under <paramref name="name"/>. One instance is
    /// created per Start through DI; a constructor parameter of type <see cref="Struct"/> receives
    /// the Start args (throw <see cref="ArgumentException"/> there to reject bad args).
    /// </summary>
    /// <example><code>services.AddWorkflow&lt;EchoWorkflow&gt;("echo", "Publishes every input unchanged.");</code></example>
    public static IServiceCollection AddWorkflow<TWorkflow>(this IServiceCollection services, string name, string description)
        where TWorkflow : class, IWorkflow<Payload, Payload>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        services.TryAddSingleton<WorkflowRegistry>();
        var takesArgs = typeof(TWorkflow).GetConstructors().Any(c => c.GetParameters().Any(p => p.ParameterType == typeof(Struct)));
        var factory = ActivatorUtilities.CreateFactory(typeof(TWorkflow), takesArgs ? [typeof(Struct)] : []);
        services.AddSingleton(new WorkflowRegistration(
            name,
            description,
            (provider, args) =>
            {
                if (!takesArgs && args.Fields.Count > 0)
                {
                    throw new ArgumentException($"The workflow '{name}' takes no args (got {string.Join(", ", args.Fields.Keys)}).", nameof(args));
                }

                return (TWorkflow)factory(provider, takesArgs ? [args] : null);
            }));
        return services;
    }
}
