using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using FiberManager.Chart.Tests.TestSupport;
using FiberManager.Core.Management;
using FiberManager.Service.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FiberManager.Chart.Tests;

/// <summary>
/// Ties the chart (and the Dockerfile) to the code: the environment it renders names real options
/// and binds in the real host, ports and probes match the server, shutdown timings are ordered
/// with the service's own defaults.
/// </summary>
public partial class ChartCodeTests
{
    private const string ManagerPrefix = "FiberManager__";
    private const string ServerPrefix = "FiberManager__Server__";

    private static readonly FiberSupervisorOptions s_managerDefaults = new();
    private static readonly ServerOptions s_serverDefaults = new();

    private static IReadOnlySet<string> ManagerProperties { get; } =
        typeof(FiberSupervisorOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    private static IReadOnlySet<string> ServerProperties { get; } =
        typeof(ServerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public async Task EnvKeys_EveryFiberManagerKeyTheChartRenders_IsAPropertyOfTheOptions()
    {
        var wrong = new List<string>();
        foreach (var (name, key) in await AllRenderedOptionKeysAsync())
        {
            bool known = key.StartsWith(ServerPrefix, StringComparison.Ordinal)
                ? ServerProperties.Contains(key[ServerPrefix.Length..])
                : ManagerProperties.Contains(key[ManagerPrefix.Length..]);
            if (!known)
            {
                wrong.Add($"{key} (value set {name})");
            }
        }

        Assert.True(wrong.Count == 0, "The chart renders environment variables that are no FiberSupervisorOptions/ServerOptions property (the service would refuse to start):\n" + string.Join("\n", wrong));
    }

    [Fact]
    public async Task EnvKeys_EveryOptionProperty_CanBeSetThroughTheChart()
    {
        var rendered = (await AllRenderedOptionKeysAsync()).Select(k => k.Key).ToHashSet(StringComparer.Ordinal);

        var missing = ManagerProperties.Select(p => ManagerPrefix + p)
            .Concat(ServerProperties.Select(p => ServerPrefix + p))
            .Where(k => !rendered.Contains(k))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.True(missing.Count == 0, "No value set (default, ci/*.yaml, PFX TLS) renders these options; add them to values.yaml and ci/custom-config-values.yaml:\n" + string.Join("\n", missing));
    }

    [Fact]
    public async Task ConfigValues_KeysAreExactlyTheFiberManagerOptions_InValuesAndSchema()
    {
        var values = await ValuesAsync();
        var valueKeys = values.GetProperty("config").EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        using var schema = JsonDocument.Parse(await File.ReadAllTextAsync(HelmChart.SchemaFile));
        var config = schema.RootElement.GetProperty("properties").GetProperty("config");
        var schemaKeys = config.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);

        Assert.True(valueKeys.SetEquals(ManagerProperties), $"values.yaml config keys differ from FiberSupervisorOptions: only in values [{string.Join(", ", valueKeys.Except(ManagerProperties))}], missing [{string.Join(", ", ManagerProperties.Except(valueKeys))}]");
        Assert.True(schemaKeys.SetEquals(ManagerProperties), $"values.schema.json config keys differ from FiberSupervisorOptions: only in schema [{string.Join(", ", schemaKeys.Except(ManagerProperties))}], missing [{string.Join(", ", ManagerProperties.Except(schemaKeys))}]");
        Assert.False(config.GetProperty("additionalProperties").GetBoolean(), "config must reject unknown keys (additionalProperties false)");
        Assert.All(values.GetProperty("config").EnumerateObject(), p => Assert.True(p.Value.ValueKind == JsonValueKind.Null, $"config.{p.Name} defaults to {p.Value}: the chart's defaults are null (the service's own default)"));
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetNames), MemberType = typeof(HelmChart))]
    public async Task RenderedEnvironment_ValueSet_BindsAndValidatesInTheServiceHost(string valueSet)
    {
        var rendering = await HelmChart.RenderingAsync(valueSet);
        await AssertBindsInHostAsync(rendering.Env, valueSet);
    }

    [Fact]
    public async Task Ports_DefaultValues_ContainerProbeAndUrlPortEqualTheDefaultUrlPort()
    {
        int defaultPort = ServerOptions.DefaultPort;
        var rendering = await HelmChart.RenderingAsync("default");

        var (containerPort, urlPort, probePorts) = Ports(rendering);

        Assert.Equal(defaultPort, containerPort);
        Assert.Equal(defaultPort, urlPort);
        Assert.All(probePorts, p => Assert.Equal(defaultPort, p));
        Assert.Equal(3, probePorts.Count);
        var servicePort = rendering.Single("Service").GetProperty("spec").GetProperty("ports")[0];
        Assert.Equal("grpc", servicePort.GetProperty("targetPort").GetString());
        Assert.Equal("grpc", rendering.Container.GetProperty("ports")[0].GetProperty("name").GetString());
        Assert.Equal(defaultPort, DockerfileExposedPort());
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetNames), MemberType = typeof(HelmChart))]
    public async Task Ports_ValueSet_ContainerProbeAndUrlPortAgree(string valueSet)
    {
        var rendering = await HelmChart.RenderingAsync(valueSet);

        var (containerPort, urlPort, probePorts) = Ports(rendering);

        Assert.Equal(containerPort, urlPort);
        Assert.All(probePorts, p => Assert.Equal(containerPort, p));
    }

    [Fact]
    public async Task Probes_DefaultValues_AreKubernetesGrpcProbesOfGrpcHealthV1()
    {
        var rendering = await HelmChart.RenderingAsync("default");
        var container = rendering.Container;
        // The kubelet's gRPC probe calls grpc.health.v1.Health/Check with HealthCheckRequest.service.
        var health = Grpc.Health.V1.HealthReflection.Descriptor.Services.Single();
        Assert.Equal("grpc.health.v1.Health", health.FullName);
        Assert.NotNull(health.FindMethodByName("Check"));
        Assert.NotNull(Grpc.Health.V1.HealthCheckRequest.Descriptor.FindFieldByName("service"));
        string serviceName = Protocol.V1.FibermanagerReflection.Descriptor.Services.Single(s => s.Name == "FiberManager").FullName;

        var expected = new Dictionary<string, string>
        {
            ["startupProbe"] = "",
            ["livenessProbe"] = "",
            ["readinessProbe"] = serviceName,
        };
        foreach (var (probe, service) in expected)
        {
            Assert.True(container.TryGetProperty(probe, out var p), $"{probe} missing");
            Assert.True(p.TryGetProperty("grpc", out var grpc), $"{probe} is not a gRPC probe: {p}");
            Assert.Equal(service, grpc.GetProperty("service").GetString());
            Assert.False(p.TryGetProperty("httpGet", out _) || p.TryGetProperty("tcpSocket", out _) || p.TryGetProperty("exec", out _), $"{probe} has a second handler: {p}");
        }
    }

    [Fact]
    public async Task Probes_Tls_FallBackToTcpBecauseKubeletGrpcProbesCannotSpeakTls()
    {
        var rendering = await HelmChart.RenderingAsync("tls");

        foreach (string probe in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            var p = rendering.Container.GetProperty(probe);
            Assert.False(p.TryGetProperty("grpc", out _), $"{probe} with TLS must not be a gRPC probe: {p}");
            Assert.Equal("grpc", p.GetProperty("tcpSocket").GetProperty("port").GetString());
        }

        Assert.StartsWith("https://", rendering.Env.Single(e => e.Name == "ASPNETCORE_URLS").Value, StringComparison.Ordinal);
        Assert.Equal("https", rendering.Single("Service").GetProperty("spec").GetProperty("ports")[0].GetProperty("appProtocol").GetString());
    }

    [Fact]
    public async Task Service_DefaultValues_DeclaresH2c()
    {
        var rendering = await HelmChart.RenderingAsync("default");

        var port = rendering.Single("Service").GetProperty("spec").GetProperty("ports")[0];

        Assert.Equal("kubernetes.io/h2c", port.GetProperty("appProtocol").GetString());
        Assert.StartsWith("http://", rendering.Env.Single(e => e.Name == "ASPNETCORE_URLS").Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Termination_DefaultValues_GraceExceedsShutdownTimeoutWhichExceedsInterruptGrace()
    {
        var rendering = await HelmChart.RenderingAsync("default");
        var (termination, preStop, shutdown, interrupt) = Timings(rendering);

        // With the defaults the chart leaves both durations to the service: they must be the C# defaults.
        Assert.Equal(s_serverDefaults.ShutdownTimeout, shutdown);
        Assert.Equal(s_managerDefaults.InterruptGracePeriod, interrupt);
        Assert.True(termination > preStop + shutdown, $"terminationGracePeriodSeconds {termination} must exceed preStop {preStop} + ShutdownTimeout {shutdown}");
        Assert.True(shutdown > interrupt, $"ShutdownTimeout {shutdown} must exceed InterruptGracePeriod {interrupt}");
    }

    [Theory]
    [MemberData(nameof(HelmChart.ValueSetNames), MemberType = typeof(HelmChart))]
    public async Task Termination_ValueSet_Ordered(string valueSet)
    {
        var (termination, preStop, shutdown, interrupt) = Timings(await HelmChart.RenderingAsync(valueSet));

        Assert.True(termination > preStop + shutdown, $"{valueSet}: terminationGracePeriodSeconds {termination} must exceed preStop {preStop} + ShutdownTimeout {shutdown}");
        Assert.True(shutdown > interrupt, $"{valueSet}: ShutdownTimeout {shutdown} must exceed InterruptGracePeriod {interrupt}");
    }

    [Fact]
    public async Task TimingGuard_AssumesTheServiceDefaultShutdownTimeout()
    {
        // The chart checks terminationGracePeriodSeconds against the service's default
        // ShutdownTimeout when server.shutdownTimeout is null: it must know the real default.
        var values = await ValuesAsync();
        long preStop = values.GetProperty("lifecycle").GetProperty("preStopSleepSeconds").GetInt64();
        long limit = preStop + (long)s_serverDefaults.ShutdownTimeout.TotalSeconds;

        var atLimit = await HelmChart.TemplateAsync(["--set", $"terminationGracePeriodSeconds={limit}"]);
        var aboveLimit = await HelmChart.TemplateAsync(["--set", $"terminationGracePeriodSeconds={limit + 1}"]);

        Assert.True(atLimit.ExitCode != 0 && atLimit.StandardError.Contains("terminationGracePeriodSeconds", StringComparison.Ordinal), "terminationGracePeriodSeconds = preStop + the default ShutdownTimeout must be refused:\n" + atLimit.Describe());
        Assert.True(aboveLimit.ExitCode == 0, aboveLimit.Describe());
    }

    [Fact]
    public async Task TimingGuard_AssumesTheServiceDefaultInterruptGracePeriod()
    {
        var grace = s_managerDefaults.InterruptGracePeriod;

        var equal = await HelmChart.TemplateAsync(["--set", $"server.shutdownTimeout={grace.ToString("c", CultureInfo.InvariantCulture)}"]);
        var longer = await HelmChart.TemplateAsync(["--set", $"server.shutdownTimeout={(grace + TimeSpan.FromSeconds(1)).ToString("c", CultureInfo.InvariantCulture)}"]);

        Assert.True(equal.ExitCode != 0 && equal.StandardError.Contains("must exceed config.InterruptGracePeriod", StringComparison.Ordinal), "server.shutdownTimeout = the default InterruptGracePeriod must be refused:\n" + equal.Describe());
        Assert.True(longer.ExitCode == 0, longer.Describe());
    }

    [Fact]
    public async Task Security_DefaultValues_RestrictiveAndSameUidAsTheImage()
    {
        var rendering = await HelmChart.RenderingAsync("default");
        var pod = rendering.PodSpec.GetProperty("securityContext");
        var container = rendering.Container.GetProperty("securityContext");
        int imageUid = DockerfileUser();

        Assert.True(pod.GetProperty("runAsNonRoot").GetBoolean());
        Assert.Equal(imageUid, pod.GetProperty("runAsUser").GetInt32());
        Assert.Equal("RuntimeDefault", pod.GetProperty("seccompProfile").GetProperty("type").GetString());
        Assert.True(container.GetProperty("runAsNonRoot").GetBoolean());
        Assert.Equal(imageUid, container.GetProperty("runAsUser").GetInt32());
        Assert.False(container.GetProperty("allowPrivilegeEscalation").GetBoolean());
        Assert.True(container.GetProperty("readOnlyRootFilesystem").GetBoolean());
        Assert.False(container.GetProperty("privileged").GetBoolean());
        Assert.Equal(["ALL"], container.GetProperty("capabilities").GetProperty("drop").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("RuntimeDefault", container.GetProperty("seccompProfile").GetProperty("type").GetString());
        Assert.False(rendering.PodSpec.GetProperty("automountServiceAccountToken").GetBoolean());

        var tmpMount = rendering.Container.GetProperty("volumeMounts").EnumerateArray().Single(m => m.GetProperty("mountPath").GetString() == "/tmp");
        var tmpVolume = rendering.PodSpec.GetProperty("volumes").EnumerateArray().Single(v => v.GetProperty("name").GetString() == tmpMount.GetProperty("name").GetString());
        Assert.True(tmpVolume.TryGetProperty("emptyDir", out _), $"/tmp must be an emptyDir: {tmpVolume}");
    }

    [Fact]
    public void Dockerfile_BuildsWithSdk10_RunsOnAspnet10_ListensOnAllInterfacesAtTheDefaultPort()
    {
        string dockerfile = File.ReadAllText(RepositoryRoot.Combine("Dockerfile"));
        var from = FromRegex().Matches(dockerfile).Select(m => m.Groups[1].Value).ToList();
        var url = new Uri(EnvUrlRegex().Match(dockerfile) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException("Dockerfile sets no ASPNETCORE_URLS"));

        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0", "mcr.microsoft.com/dotnet/aspnet:10.0"], from);
        Assert.Equal("0.0.0.0", url.Host);
        Assert.Equal(Uri.UriSchemeHttp, url.Scheme);
        Assert.Equal(ServerOptions.DefaultPort, url.Port);
        Assert.Equal(url.Port, DockerfileExposedPort());
        Assert.NotEqual(0, DockerfileUser());
    }

    [Fact]
    public async Task Env_EveryDollarReference_IsDefinedEarlierInTheContainer()
    {
        // Kubernetes expands $(NAME) only for variables defined earlier in the list; otherwise
        // the text stays literally "$(NAME)".
        var problems = new List<string>();
        foreach (var rendering in (await HelmChart.AllAsync()).Values)
        {
            var defined = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, value) in rendering.Env)
            {
                foreach (Match reference in DollarReferenceRegex().Matches(value ?? ""))
                {
                    if (!defined.Contains(reference.Groups[1].Value))
                    {
                        problems.Add($"{rendering.Set.Name}: {name} uses $({reference.Groups[1].Value}) before it is defined");
                    }
                }

                defined.Add(name);
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Otel_Enabled_RendersTheStandardVariables()
    {
        var env = (await HelmChart.RenderingAsync("otel")).Env.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var defaults = (await HelmChart.RenderingAsync("default")).Env.Select(e => e.Name).ToList();

        Assert.Superset(new HashSet<string> { "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_METRIC_EXPORT_INTERVAL" }, env);
        Assert.DoesNotContain(defaults, n => n.StartsWith("OTEL_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readme_ListsEveryValueWithItsDefault()
    {
        // Free-form objects are documented as a whole (their default shown in the README).
        string[] wholeObjects = ["strategy", "resources", "podSecurityContext", "securityContext"];
        var values = await ValuesAsync();
        string readme = await File.ReadAllTextAsync(Path.Combine(Tools.ChartDirectory, "README.md"));
        var rows = ReadmeRowRegex().Matches(readme).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim(), StringComparer.Ordinal);

        var problems = new List<string>();
        foreach (var (path, value) in Leaves(values, "", wholeObjects))
        {
            if (!rows.TryGetValue(path, out string? documented))
            {
                problems.Add($"`{path}` (default {Format(value)}) has no row `| \\`{path}\\` | ... |`");
            }
            else if (!wholeObjects.Contains(path) && documented != $"`{Format(value)}`")
            {
                problems.Add($"`{path}`: README says {documented}, values.yaml has `{Format(value)}`");
            }
        }

        var documentedButGone = rows.Keys.Where(k => !Leaves(values, "", wholeObjects).Any(l => l.Path == k)).ToList();
        problems.AddRange(documentedButGone.Select(k => $"README documents `{k}`, which values.yaml does not have"));
        Assert.True(problems.Count == 0, "charts/fibermanager/README.md is out of date:\n" + string.Join("\n", problems));
    }

    internal static async Task AssertBindsInHostAsync(IReadOnlyList<(string Name, string? Value)> env, string label)
    {
        string certificateDirectory = Directory.CreateTempSubdirectory("fibermanager-chart-cert-").FullName;
        try
        {
            var settings = new List<(string Key, string Value)>();
            foreach (var (name, value) in env)
            {
                if (!name.StartsWith(ManagerPrefix, StringComparison.Ordinal) || value is null)
                {
                    continue; // valueFrom (a Secret) has no literal value here
                }

                string v = value;
                if (name is "FiberManager__Server__CertificatePath" or "FiberManager__Server__CertificateKeyPathOrPassword" or "FiberManager__Server__ClientCertificateAuthorityPath" && v.StartsWith('/'))
                {
                    // The chart points at the mounted Secrets; stand in a real PEM certificate and
                    // key (the host loads them when it is built; the self-signed certificate also
                    // serves as the client CA).
                    v = Path.Combine(certificateDirectory, name.EndsWith("AuthorityPath", StringComparison.Ordinal) ? "client-ca-" + Path.GetFileName(v) : Path.GetFileName(v));
                    if (v.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase))
                    {
                        // The PFX variant: its password comes from a Secret (not rendered here), so the stand-in has none.
                        await File.WriteAllBytesAsync(v, s_certificate.Value.Pfx);
                    }
                    else
                    {
                        await File.WriteAllTextAsync(v, name.EndsWith("KeyPathOrPassword", StringComparison.Ordinal) ? s_certificate.Value.KeyPem : s_certificate.Value.CertificatePem);
                    }
                }

                settings.Add((name.Replace("__", ":", StringComparison.Ordinal), v));
            }

            string[] args = [.. settings.Select(s => $"--{s.Key}={s.Value}")];
            FiberSupervisorOptions manager;
            ServerOptions server;
            try
            {
                await using var app = FiberManagerApp.Create(args);
                manager = app.Services.GetRequiredService<IOptions<FiberSupervisorOptions>>().Value;
                server = app.Services.GetRequiredService<IOptions<ServerOptions>>().Value;
            }
            catch (OptionsValidationException e)
            {
                Assert.Fail($"{label}: the service refuses the rendered configuration: {e.Message}\n{string.Join("\n", args)}");
                return;
            }

            // Every rendered value reached its option (not silently ignored).
            foreach (var (key, value) in settings)
            {
                bool isServer = key.StartsWith("FiberManager:Server:", StringComparison.Ordinal);
                object options = isServer ? server : manager;
                var property = options.GetType().GetProperty(key[(key.LastIndexOf(':') + 1)..])!;
                object? expected = TypeDescriptor.GetConverter(property.PropertyType).ConvertFromInvariantString(value);
                Assert.True(Equals(expected, property.GetValue(options)), $"{label}: {key}={value} bound as {property.GetValue(options)}");
            }
        }
        finally
        {
            Directory.Delete(certificateDirectory, recursive: true);
        }
    }

    private static readonly Lazy<(string CertificatePem, string KeyPem, byte[] Pfx)> s_certificate = new(() =>
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fibermanager.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem(), certificate.Export(X509ContentType.Pfx));
    });

    private static async Task<List<(string ValueSet, string Key)>> AllRenderedOptionKeysAsync()
    {
        var keys = new List<(string, string)>();
        foreach (var rendering in (await HelmChart.AllAsync()).Values)
        {
            keys.AddRange(rendering.Env.Where(e => e.Name.StartsWith("FiberManager", StringComparison.OrdinalIgnoreCase)).Select(e => (rendering.Set.Name, e.Name)));
        }

        // The PFX variant of TLS renders CertificateKeyPathOrPassword from a Secret.
        var pfx = await HelmChart.RenderDocumentsAsync(["--values", Path.Combine(Tools.ChartDirectory, "ci", "tls-values.yaml"), "--set", "tls.keyFile=", "--set", "tls.certificateFile=server.pfx", "--set", "tls.pfxPasswordSecret.name=pfx", "--set", "tls.pfxPasswordSecret.key=password"]);
        var container = pfx.Single(d => d.GetProperty("kind").GetString() == "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        keys.AddRange(container.GetProperty("env").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).Where(n => n.StartsWith("FiberManager", StringComparison.OrdinalIgnoreCase)).Select(n => ("tls-pfx", n)));
        return keys;
    }

    private static async Task<JsonElement> ValuesAsync() => (await HelmChart.YamlToJsonAsync([HelmChart.ValuesFile]))[HelmChart.ValuesFile].Single();

    private static (int ContainerPort, int UrlPort, List<int> ProbePorts) Ports(Rendering rendering)
    {
        var container = rendering.Container;
        int containerPort = container.GetProperty("ports").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "grpc").GetProperty("containerPort").GetInt32();
        int urlPort = new Uri(rendering.Env.Single(e => e.Name == "ASPNETCORE_URLS").Value!).Port;
        var probePorts = new[] { "startupProbe", "livenessProbe", "readinessProbe" }
            .Where(p => container.TryGetProperty(p, out var probe) && probe.TryGetProperty("grpc", out _))
            .Select(p => container.GetProperty(p).GetProperty("grpc").GetProperty("port").GetInt32())
            .ToList();
        return (containerPort, urlPort, probePorts);
    }

    private static (TimeSpan Termination, TimeSpan PreStop, TimeSpan Shutdown, TimeSpan Interrupt) Timings(Rendering rendering)
    {
        var env = rendering.Env.ToDictionary(e => e.Name, e => e.Value, StringComparer.Ordinal);
        var termination = TimeSpan.FromSeconds(rendering.PodSpec.GetProperty("terminationGracePeriodSeconds").GetInt64());
        var preStop = rendering.Container.TryGetProperty("lifecycle", out var lifecycle)
            ? TimeSpan.FromSeconds(int.Parse(lifecycle.GetProperty("preStop").GetProperty("exec").GetProperty("command")[1].GetString()!, CultureInfo.InvariantCulture))
            : TimeSpan.Zero;
        var shutdown = env.TryGetValue("FiberManager__Server__ShutdownTimeout", out string? s) ? TimeSpan.Parse(s!, CultureInfo.InvariantCulture) : s_serverDefaults.ShutdownTimeout;
        var interrupt = env.TryGetValue("FiberManager__InterruptGracePeriod", out string? i) ? TimeSpan.Parse(i!, CultureInfo.InvariantCulture) : s_managerDefaults.InterruptGracePeriod;
        return (termination, preStop, shutdown, interrupt);
    }

    private static int DockerfileExposedPort() =>
        ExposeRegex().Match(File.ReadAllText(RepositoryRoot.Combine("Dockerfile"))) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException("Dockerfile has no EXPOSE");

    private static int DockerfileUser() =>
        UserRegex().Match(File.ReadAllText(RepositoryRoot.Combine("Dockerfile"))) is { Success: true } m
            ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException("Dockerfile has no numeric USER");

    private static IEnumerable<(string Path, JsonElement Value)> Leaves(JsonElement element, string prefix, string[] wholeObjects)
    {
        foreach (var property in element.EnumerateObject())
        {
            string path = prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}";
            if (property.Value.ValueKind == JsonValueKind.Object && property.Value.EnumerateObject().Any() && !wholeObjects.Contains(path))
            {
                foreach (var leaf in Leaves(property.Value, path, wholeObjects))
                {
                    yield return leaf;
                }
            }
            else
            {
                yield return (path, property.Value);
            }
        }
    }

    private static string Format(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.String when value.GetString() == "" => "\"\"",
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Object when !value.EnumerateObject().Any() => "{}",
        JsonValueKind.Array when value.GetArrayLength() == 0 => "[]",
        _ => value.GetRawText(),
    };

    [GeneratedRegex(@"^FROM\s+(\S+)", RegexOptions.Multiline)]
    private static partial Regex FromRegex();

    [GeneratedRegex(@"^EXPOSE\s+(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex ExposeRegex();

    [GeneratedRegex(@"^USER\s+(\d+)(?::\d+)?\s*$", RegexOptions.Multiline)]
    private static partial Regex UserRegex();

    [GeneratedRegex(@"ASPNETCORE_URLS=(\S+)")]
    private static partial Regex EnvUrlRegex();

    [GeneratedRegex(@"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex DollarReferenceRegex();

    [GeneratedRegex(@"^\|\s*`([A-Za-z0-9_.]+)`\s*\|([^|]*)\|", RegexOptions.Multiline)]
    private static partial Regex ReadmeRowRegex();
}
