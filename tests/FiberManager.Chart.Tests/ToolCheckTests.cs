using FiberManager.Chart.Tests.TestSupport;

namespace FiberManager.Chart.Tests;

/// <summary>
/// The chart passes the external tools, for the default values and for every <c>ci/*.yaml</c>:
/// helm lint --strict, helm template, kubernetes-models (types and required fields),
/// python3-kubernetes (unknown fields) and yamllint.
/// </summary>
public class ToolCheckTests
{
    [Fact]
    public void CiValueSets_CoverTlsScalingOtelAndCustomConfig()
    {
        var names = HelmChart.ValueSets.Select(s => s.Name).ToHashSet();
        var missing = HelmChart.RequiredCiSets.Where(n => !names.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"charts/fibermanager/ci/ lacks {string.Join(", ", missing.Select(m => m + "-values.yaml"))} (found: {string.Join(", ", names)}).");
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetNames), MemberType = typeof(HelmChart))]
    public async Task HelmLintStrict_ValueSet_Clean(string valueSet)
    {
        var set = HelmChart.ValueSets.Single(s => s.Name == valueSet);
        var result = await ChildProcess.RunAsync(Tools.Helm, ["lint", "--strict", Tools.ChartDirectory, .. set.HelmArguments]);

        Assert.True(result.ExitCode == 0, result.Describe());
        // In lint mode helm logs a template's `fail` as "[INFO] Fail: ..." and still passes: the
        // chart's consistency checks would go unnoticed without this.
        string output = result.StandardOutput + result.StandardError;
        Assert.False(output.Contains("Fail:", StringComparison.Ordinal), "a template `fail` fired during lint:\n" + result.Describe());
        Assert.False(output.Contains("[WARNING]", StringComparison.Ordinal) || output.Contains("[ERROR]", StringComparison.Ordinal), result.Describe());
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetNames), MemberType = typeof(HelmChart))]
    public async Task HelmTemplate_ValueSet_RendersTheServer(string valueSet)
    {
        var rendering = await HelmChart.RenderingAsync(valueSet);

        var kinds = rendering.Documents.Select(d => d.GetProperty("kind").GetString()).ToList();
        Assert.Contains("Deployment", kinds);
        Assert.Contains("Service", kinds);
        Assert.DoesNotContain("StatefulSet", kinds);
        Assert.All(rendering.Documents, d => Assert.Equal(HelmChart.Namespace, d.GetProperty("metadata").GetProperty("namespace").GetString()));
    }

    [Fact]
    public async Task KubernetesModels_EveryValueSet_TypesAndRequiredFieldsValid()
    {
        var renderings = await HelmChart.AllAsync();

        var result = await ChildProcess.RunAsync(Tools.Node, [Tools.Script("check-manifests.mjs"), .. renderings.Values.Select(r => r.ManifestPath)]);

        Assert.True(result.ExitCode == 0, "kubernetes-models rejected rendered manifests:\n" + result.Describe());
    }

    [Fact]
    public async Task PythonKubernetes_EveryValueSet_NoUnknownFields()
    {
        var renderings = await HelmChart.AllAsync();

        var result = await ChildProcess.RunAsync(Tools.Python, [Tools.Script("check-unknown-fields.py"), .. renderings.Values.Select(r => r.ManifestPath)]);

        Assert.True(result.ExitCode == 0, "rendered manifests have fields Kubernetes does not know:\n" + result.Describe());
    }

    [Fact]
    public async Task Yamllint_ChartSources_Clean()
    {
        string[] files =
        [
            Path.Combine(Tools.ChartDirectory, "Chart.yaml"),
            HelmChart.ValuesFile,
            .. HelmChart.ValueSets.Where(s => s.ValuesFile is not null).Select(s => s.ValuesFile!),
        ];

        var result = await ChildProcess.RunAsync(Tools.Yamllint, ["--strict", "--format", "parsable", "--config-file", Tools.Script("yamllint-chart.yaml"), .. files]);

        Assert.True(result.ExitCode == 0, "yamllint found problems in the chart's YAML:\n" + result.Describe());
    }

    [Fact]
    public async Task Yamllint_RenderedManifests_Clean()
    {
        var renderings = await HelmChart.AllAsync();

        var result = await ChildProcess.RunAsync(Tools.Yamllint, ["--strict", "--format", "parsable", "--config-file", Tools.Script("yamllint-rendered.yaml"), .. renderings.Values.Select(r => r.ManifestPath)]);

        Assert.True(result.ExitCode == 0, "yamllint found problems in rendered manifests (duplicate keys, stray whitespace, ...):\n" + result.Describe());
    }
}
