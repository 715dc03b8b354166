using System.Diagnostics;

namespace FiberManager.Core.Management;

/// <summary>
/// One accepted input as the workflow reads it: the value, its per-fiber sequence number, the
/// submit id it was submitted with, and the trace context of the Submit that carried it.
/// </summary>
/// <typeparam name="T">The input type.</typeparam>
/// <param name="Value">The submitted value.</param>
/// <param name="Sequence">The sequence number Submit returned for it (1, 2, 3, … over the accepted inputs).</param>
/// <param name="SubmitId">The submit id it was submitted with, if any.</param>
/// <param name="SubmitContext">
/// The trace context of the activity current when it was submitted (<see cref="Activity.Current"/>),
/// or <c>default</c> when there was none: a workflow's processing span links to it.
/// </param>
/// <example><code>
/// while (await context.Input.WaitToReadAsync(context.CancellationToken))
///     while (context.Input.TryReadItem(out var item))
///     {
///         using var span = source.StartActivity("process", ActivityKind.Consumer, parentContext: default,
///             links: item.SubmitContext == default ? null : [new ActivityLink(item.SubmitContext)]);
///         context.Publish(Transform(item.Value));
///     }
/// </code></example>
public readonly record struct InputItem<T>(T Value, ulong Sequence, string? SubmitId, ActivityContext SubmitContext);
