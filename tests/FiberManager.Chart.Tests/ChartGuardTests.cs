using FiberManager.Chart.Tests.TestSupport;

namespace FiberManager.Chart.Tests;

/// <summary>
/// Values that would deploy a broken or weakened service are refused when the chart renders,
/// by values.schema.json or by a template <c>fail</c>, with a message naming the value.
/// </summary>
public class ChartGuardTests
{
    public static TheoryData<string, string[], string> RefusedValues => new()
    {
        { "unknown FiberManager option", ["--set", "config.MaxConcurentFibers=10"], "Additional property MaxConcurentFibers is not allowed" },
        { "Server is not a config key", ["--set", "config.Server=x"], "Additional property Server is not allowed" },
        { "unknown top-level value", ["--set", "replicas=3"], "Additional property replicas is not allowed" },
        { "a bare number is days to .NET, not seconds", ["--set", "config.InterruptGracePeriod=5"], "config.InterruptGracePeriod" },
        { "24:00:00 is 24 days to .NET", ["--set", "config.RetentionPeriod=24:00:00"], "config.RetentionPeriod" },
        { "limit below 1", ["--set", "config.MaxConcurrentFibers=0"], "config.MaxConcurrentFibers" },
        { "message size above 64 MiB", ["--set", "server.maxMessageSize=100000000"], "server.maxMessageSize" },
        { "shutdown not longer than the interrupt grace", ["--set", "config.InterruptGracePeriod=00:00:30"], "must exceed config.InterruptGracePeriod" },
        { "SIGKILL before shutdown ends", ["--set", "server.shutdownTimeout=00:01:00"], "terminationGracePeriodSeconds (45) must exceed" },
        { "preStop eats the grace period", ["--set", "lifecycle.preStopSleepSeconds=20"], "terminationGracePeriodSeconds (45) must exceed" },
        { "FiberManager__ through extraEnv", ["--set", "extraEnv[0].name=FiberManager__MaxLabels", "--set", "extraEnv[0].value=1"], "extraEnv.0.name" },
        { "FiberManager: through extraEnv", ["--set", "extraEnv[0].name=fibermanager:Server:MaxMessageSize", "--set", "extraEnv[0].value=x"], "extraEnv.0.name" },
        { "TLS without a Secret", ["--set", "tls.enabled=true"], "tls.enabled needs tls.secretName" },
        { "TLS with both PEM key and PFX password", ["--set", "tls.enabled=true", "--set", "tls.secretName=s", "--set", "tls.pfxPasswordSecret.name=p", "--set", "tls.pfxPasswordSecret.key=k"], "not both" },
        { "mTLS without TLS", ["--set", "tls.clientCertificateMode=Require", "--set", "tls.clientCa.secretName=ca"], "tls.clientCertificateMode Require needs tls.enabled" },
        { "mTLS without a CA Secret", ["--set", "tls.enabled=true", "--set", "tls.secretName=s", "--set", "tls.clientCertificateMode=Allow"], "tls.clientCertificateMode Allow needs tls.clientCa.secretName" },
        { "mTLS mode typo", ["--set", "tls.clientCertificateMode=required"], "tls.clientCertificateMode" },
        { "OTEL without an endpoint", ["--set", "otel.enabled=true"], "otel.enabled needs otel.endpoint" },
        { "OTEL protocol typo", ["--set", "otel.enabled=true", "--set", "otel.endpoint=http://c:4317", "--set", "otel.protocol=http"], "otel.protocol" },
        { "root allowed", ["--set", "podSecurityContext.runAsNonRoot=false"], "podSecurityContext.runAsNonRoot" },
        { "writable root filesystem", ["--set", "securityContext.readOnlyRootFilesystem=false"], "securityContext.readOnlyRootFilesystem" },
        { "privilege escalation", ["--set", "securityContext.allowPrivilegeEscalation=true"], "securityContext.allowPrivilegeEscalation" },
        { "HPA min above max", ["--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=5", "--set", "autoscaling.maxReplicas=2"], "autoscaling.minReplicas (5) must not exceed" },
        { "PDB with nothing to keep", ["--set", "podDisruptionBudget.maxUnavailable=null"], "podDisruptionBudget.enabled needs" },
    };

    [Theory]
    [MemberData(nameof(RefusedValues))]
    public async Task Template_BadValues_RefusedWithAMessageNamingTheValue(string why, string[] arguments, string expectedMessage)
    {
        var result = await HelmChart.TemplateAsync(arguments);

        Assert.True(result.ExitCode != 0, $"{why}: helm template accepted it:\n{result.Describe()}");
        Assert.True(result.StandardError.Contains(expectedMessage, StringComparison.Ordinal), $"{why}: expected a message containing '{expectedMessage}':\n{result.Describe()}");
    }

    [Fact]
    public async Task Template_LongerShutdownWithLongerTermination_Accepted()
    {
        var documents = await HelmChart.RenderDocumentsAsync(["--set", "server.shutdownTimeout=00:01:00", "--set", "terminationGracePeriodSeconds=70", "--set", "config.InterruptGracePeriod=00:00:20"]);

        var pod = documents.Single(d => d.GetProperty("kind").GetString() == "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec");
        Assert.Equal(70, pod.GetProperty("terminationGracePeriodSeconds").GetInt32());
    }

    [Fact]
    public async Task Template_PfxCertificate_PasswordComesFromTheSecret()
    {
        var documents = await HelmChart.RenderDocumentsAsync(["--set", "tls.enabled=true", "--set", "tls.secretName=tls", "--set", "tls.certificateFile=server.pfx", "--set", "tls.keyFile=", "--set", "tls.pfxPasswordSecret.name=pfx", "--set", "tls.pfxPasswordSecret.key=password"]);

        var container = documents.Single(d => d.GetProperty("kind").GetString() == "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];
        var env = container.GetProperty("env").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal("/etc/fibermanager/tls/server.pfx", env["FiberManager__Server__CertificatePath"].GetProperty("value").GetString());
        var secretRef = env["FiberManager__Server__CertificateKeyPathOrPassword"].GetProperty("valueFrom").GetProperty("secretKeyRef");
        Assert.Equal("pfx", secretRef.GetProperty("name").GetString());
        Assert.Equal("password", secretRef.GetProperty("key").GetString());
    }

    [Fact]
    public async Task Template_MutualTls_MountsTheClientCaAndSetsBothOptions()
    {
        var documents = await HelmChart.RenderDocumentsAsync(["--values", Path.Combine(Tools.ChartDirectory, "ci", "mtls-values.yaml")]);

        var pod = documents.Single(d => d.GetProperty("kind").GetString() == "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec");
        var container = pod.GetProperty("containers")[0];
        var env = container.GetProperty("env").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!);
        Assert.Equal("Require", env["FiberManager__Server__ClientCertificateMode"].GetProperty("value").GetString());
        Assert.Equal("/etc/fibermanager/client-ca/ca.crt", env["FiberManager__Server__ClientCertificateAuthorityPath"].GetProperty("value").GetString());
        var mount = container.GetProperty("volumeMounts").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "client-ca");
        Assert.Equal("/etc/fibermanager/client-ca", mount.GetProperty("mountPath").GetString());
        Assert.True(mount.GetProperty("readOnly").GetBoolean());
        var volume = pod.GetProperty("volumes").EnumerateArray().Single(v => v.GetProperty("name").GetString() == "client-ca");
        Assert.Equal("fibermanager-client-ca", volume.GetProperty("secret").GetProperty("secretName").GetString());
    }

    [Fact]
    public async Task Template_TlsWithoutClientCertificates_RendersNoMtlsOptions()
    {
        var documents = await HelmChart.RenderDocumentsAsync(["--values", Path.Combine(Tools.ChartDirectory, "ci", "tls-values.yaml")]);

        var pod = documents.Single(d => d.GetProperty("kind").GetString() == "Deployment").GetProperty("spec").GetProperty("template").GetProperty("spec");
        var names = pod.GetProperty("containers")[0].GetProperty("env").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).ToList();
        Assert.DoesNotContain("FiberManager__Server__ClientCertificateMode", names);
        Assert.DoesNotContain(pod.GetProperty("volumes").EnumerateArray(), v => v.GetProperty("name").GetString() == "client-ca");
    }
}
