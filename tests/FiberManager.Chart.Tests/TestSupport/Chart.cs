using System.Text.Json;

namespace FiberManager.Chart.Tests.TestSupport;

/// <summary>A set of chart values: the defaults, or the defaults plus one <c>ci/*.yaml</c> file.</summary>
public sealed record ValueSet(string Name, string? ValuesFile)
{
    public override string ToString() => Name;

    /// <summary>The helm arguments that select this set.</summary>
    public IReadOnlyList<string> HelmArguments => ValuesFile is null ? [] : ["--values", ValuesFile];
}

/// <summary>The manifests one value set renders to, as a YAML file and as JSON documents.</summary>
internal sealed class Rendering(ValueSet set, string manifestPath, IReadOnlyList<JsonElement> documents)
{
    public ValueSet Set { get; } = set;

    /// <summary>The <c>helm template</c> output on disk (for the external checkers).</summary>
    public string ManifestPath { get; } = manifestPath;

    public IReadOnlyList<JsonElement> Documents { get; } = documents;

    public IEnumerable<JsonElement> OfKind(string kind) => Documents.Where(d => d.GetProperty("kind").GetString() == kind);

    public JsonElement Single(string kind) =>
        OfKind(kind).ToList() is [var only] ? only : throw new InvalidOperationException($"{Set.Name}: expected one {kind}, found {OfKind(kind).Count()}.");

    public JsonElement PodSpec => Single("Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec");

    public JsonElement Container => PodSpec.GetProperty("containers") is { ValueKind: JsonValueKind.Array } c && c.GetArrayLength() == 1
        ? c[0]
        : throw new InvalidOperationException($"{Set.Name}: expected one container.");

    /// <summary>The container's environment in order: name, and the literal value (null for valueFrom).</summary>
    public IReadOnlyList<(string Name, string? Value)> Env =>
        Container.TryGetProperty("env", out var env)
            ? env.EnumerateArray().Select(e => (e.GetProperty("name").GetString()!, e.TryGetProperty("value", out var v) ? v.GetString() : null)).ToList()
            : [];
}

/// <summary>Renders the chart with <c>helm template</c> (once per value set, shared by all tests).</summary>
internal static class HelmChart
{
    public const string Release = "fm";
    public const string Namespace = "fibermanager-test";

    /// <summary>The value sets in <c>ci/</c> that the checks must cover (the test fails if one goes missing).</summary>
    public static readonly string[] RequiredCiSets = ["tls", "scaling", "otel", "custom-config"];

    private static readonly Lazy<Task<IReadOnlyDictionary<string, Rendering>>> s_all = new(RenderAllAsync);
    private static readonly Lazy<string> s_tempDirectory = new(CreateTempDirectory);

    public static string ValuesFile => Path.Combine(Tools.ChartDirectory, "values.yaml");

    public static string SchemaFile => Path.Combine(Tools.ChartDirectory, "values.schema.json");

    /// <summary>"default" and one set per <c>charts/fibermanager/ci/*-values.yaml</c>.</summary>
    public static IReadOnlyList<ValueSet> ValueSets { get; } =
    [
        new("default", null),
        .. Directory.GetFiles(Path.Combine(Tools.ChartDirectory, "ci"), "*.yaml")
            .Order(StringComparer.Ordinal)
            .Select(f => new ValueSet(Path.GetFileName(f).Replace("-values.yaml", "", StringComparison.Ordinal).Replace(".yaml", "", StringComparison.Ordinal), f)),
    ];

    public static TheoryData<string> ValueSetNames => new(ValueSets.Select(s => s.Name));

    public static Task<IReadOnlyDictionary<string, Rendering>> AllAsync() => s_all.Value;

    public static async Task<Rendering> RenderingAsync(string valueSet) => (await AllAsync())[valueSet];

    /// <summary><c>helm template</c> with the test release and namespace plus the given arguments.</summary>
    public static Task<ProcessResult> TemplateAsync(IEnumerable<string> arguments) =>
        ChildProcess.RunAsync(Tools.Helm, ["template", Release, Tools.ChartDirectory, "--namespace", Namespace, .. arguments]);

    /// <summary>Renders, expecting success, and returns the documents.</summary>
    public static async Task<IReadOnlyList<JsonElement>> RenderDocumentsAsync(IEnumerable<string> arguments)
    {
        var result = await TemplateAsync(arguments);
        Assert.True(result.ExitCode == 0, result.Describe());
        string file = Path.Combine(s_tempDirectory.Value, $"adhoc-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, result.StandardOutput);
        return (await YamlToJsonAsync([file]))[file];
    }

    /// <summary>YAML files (multi-document) as JSON documents, converted by npm yaml (YAML 1.1, like the API server).</summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<JsonElement>>> YamlToJsonAsync(IReadOnlyList<string> files)
    {
        var result = await ChildProcess.RunAsync(Tools.Node, [Tools.Script("yaml-to-json.mjs"), .. files]);
        Assert.True(result.ExitCode == 0, result.Describe());
        using var json = JsonDocument.Parse(result.StandardOutput);
        return json.RootElement.EnumerateArray().ToDictionary(
            f => f.GetProperty("file").GetString()!,
            f => (IReadOnlyList<JsonElement>)f.GetProperty("documents").EnumerateArray().Select(d => d.Clone()).ToList());
    }

    private static async Task<IReadOnlyDictionary<string, Rendering>> RenderAllAsync()
    {
        var results = await Task.WhenAll(ValueSets.Select(async set => (set, result: await TemplateAsync(set.HelmArguments))));
        var failures = results.Where(r => r.result.ExitCode != 0).Select(r => $"value set '{r.set.Name}': {r.result.Describe()}").ToList();
        if (failures.Count > 0)
        {
            throw new InvalidOperationException("helm template failed:\n" + string.Join("\n\n", failures));
        }

        var files = new Dictionary<string, ValueSet>();
        foreach (var (set, result) in results)
        {
            string file = Path.Combine(s_tempDirectory.Value, $"{set.Name}.yaml");
            await File.WriteAllTextAsync(file, result.StandardOutput);
            files[file] = set;
        }

        var documents = await YamlToJsonAsync([.. files.Keys]);
        return files.ToDictionary(f => f.Value.Name, f => new Rendering(f.Value, f.Key, documents[f.Key]));
    }

    private static string CreateTempDirectory()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"fibermanager-chart-tests-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // best effort: a temp directory left behind is harmless
            }
        };
        return directory;
    }
}
