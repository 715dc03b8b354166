using System.Globalization;
using FiberManager.Workloads;

// Usage: FiberManager.Workloads <workload> [--n N] [--f F] [--smoke]
//        FiberManager.Workloads report <results.jsonl> [--title T]
//        FiberManager.Workloads list
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.Error.WriteLine("usage: FiberManager.Workloads <workload> [--n N] [--f F] [--smoke] | list | report <results.jsonl>");
    Console.Error.WriteLine("workloads: " + string.Join(", ", Catalog.Names));
    return 2;
}

if (args[0] == "list")
{
    foreach (var known in Catalog.Names)
    {
        Console.WriteLine(known);
    }

    return 0;
}

if (args[0] == "report")
{
    if (args.Length < 2)
    {
        Console.Error.WriteLine("usage: FiberManager.Workloads report <results.jsonl> [--command \"...\"]");
        return 2;
    }

    var command = Option(args, "--command");
    Console.Write(Report.Render(File.ReadAllLines(args[1]), command));
    return 0;
}

var name = args[0];
if (!Catalog.TryGet(name, out var workload))
{
    Console.Error.WriteLine($"unknown workload '{name}'; known: {string.Join(", ", Catalog.Names)}");
    return 2;
}

var smoke = args.Contains("--smoke");
var size = new WorkloadSize(
    N: ParseInt(Option(args, "--n")) ?? (smoke ? workload.SmokeN : workload.DefaultN),
    F: ParseInt(Option(args, "--f")) ?? (smoke ? 20 : 1_000),
    Smoke: smoke);

var result = await workload.Run(size).ConfigureAwait(false);
Console.WriteLine(result.ToJson());
return result.AllChecksPassed ? 0 : 1;

static string? Option(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static int? ParseInt(string? text) =>
    text is null ? null : int.Parse(text.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture);
