using System.Globalization;
using FiberManager.Core.Management;
using FiberManager.Protocol.V1;
using Google.Protobuf.WellKnownTypes;

namespace FiberManager.Service.Workflows;

/// <summary>
/// <c>aggregate</c>: sums numbers in batches. Args: <c>{"batch_size": 5}</c> (1–10,000, default 10)
/// and optionally <c>{"field": "amount"}</c> to read the number from that field of object inputs.
/// Every <c>batch_size</c> numeric inputs it publishes
/// <c>{"batch": n, "count": c, "sum": s, "mean": m, "min": a, "max": b}</c>. An input it cannot
/// read as a number is not dropped: it publishes <c>{"error": "...", "input": ...}</c> and goes on.
/// Pausing stops it taking inputs mid-batch; Resume continues the same batch.
/// </summary>
public sealed class AggregateWorkflow : IWorkflow<Payload, Payload>
{
    /// <summary>The name it is registered under.</summary>
    public const string Name = "aggregate";

    private readonly int _batchSize;
    private readonly string? _field;

    /// <summary>Reads and checks the args.</summary>
    /// <exception cref="ArgumentException">batch_size is not an integer in 1–10,000, or field is not a string.</exception>
    public AggregateWorkflow(Struct args)
    {
        ArgumentNullException.ThrowIfNull(args);
        _batchSize = 10;
        if (args.Fields.TryGetValue("batch_size", out var size))
        {
            if (size.KindCase != Value.KindOneofCase.NumberValue || size.NumberValue != Math.Floor(size.NumberValue)
                || size.NumberValue < 1 || size.NumberValue > 10_000)
            {
                throw new ArgumentException("args.batch_size must be an integer from 1 to 10000.", nameof(args));
            }

            _batchSize = (int)size.NumberValue;
        }

        if (args.Fields.TryGetValue("field", out var field))
        {
            if (field.KindCase != Value.KindOneofCase.StringValue || field.StringValue.Length == 0)
            {
                throw new ArgumentException("args.field must be a non-empty string.", nameof(args));
            }

            _field = field.StringValue;
        }

        foreach (var key in args.Fields.Keys)
        {
            if (key is not ("batch_size" or "field"))
            {
                throw new ArgumentException($"args.{key} is not an argument of '{Name}' (it takes batch_size and field).", nameof(args));
            }
        }
    }

    /// <inheritdoc/>
    public async Task RunAsync(WorkflowContext<Payload, Payload> context)
    {
        var batch = 0L;
        var count = 0;
        double sum = 0, min = double.MaxValue, max = double.MinValue;
        await foreach (var item in context.Input.ReadAllItemsAsync(context.CancellationToken).ConfigureAwait(false))
        {
            var input = item.Value;
            using var activity = Telemetry.WorkflowTracing.StartProcessing(item.SubmitContext, Name);
            if (!TryReadNumber(input, out var number, out var problem))
            {
                context.Publish(Json(new Struct
                {
                    Fields =
                    {
                        ["error"] = Value.ForString(problem),
                        ["input"] = input.KindCase == Payload.KindOneofCase.Json ? input.Json : Value.ForString($"<{input.Binary.Length} bytes>"),
                    },
                }));
                continue;
            }

            count++;
            sum += number;
            min = Math.Min(min, number);
            max = Math.Max(max, number);
            if (count == _batchSize)
            {
                batch++;
                context.Publish(Json(new Struct
                {
                    Fields =
                    {
                        ["batch"] = Value.ForNumber(batch),
                        ["count"] = Value.ForNumber(count),
                        ["sum"] = Value.ForNumber(sum),
                        ["mean"] = Value.ForNumber(sum / count),
                        ["min"] = Value.ForNumber(min),
                        ["max"] = Value.ForNumber(max),
                    },
                }));
                count = 0;
                sum = 0;
                min = double.MaxValue;
                max = double.MinValue;
            }
        }
    }

    private bool TryReadNumber(Payload input, out double number, out string problem)
    {
        number = 0;
        problem = string.Empty;
        if (input.KindCase != Payload.KindOneofCase.Json)
        {
            problem = "aggregate takes JSON numbers, not binary payloads";
            return false;
        }

        var value = input.Json;
        if (_field is not null)
        {
            if (value.KindCase != Value.KindOneofCase.StructValue || !value.StructValue.Fields.TryGetValue(_field, out value))
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"expected an object with a number in '{_field}'");
                return false;
            }
        }

        if (value.KindCase != Value.KindOneofCase.NumberValue || !double.IsFinite(value.NumberValue))
        {
            problem = "expected a number";
            return false;
        }

        number = value.NumberValue;
        return true;
    }

    private static Payload Json(Struct value) => new() { Json = Value.ForStruct(value) };
}
