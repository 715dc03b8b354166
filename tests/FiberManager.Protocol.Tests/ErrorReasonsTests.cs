using System.Reflection;
using System.Text.RegularExpressions;
using FiberManager.Protocol.Tests.TestSupport;
using FiberManager.Protocol.V1;

namespace FiberManager.Protocol.Tests;

public partial class ErrorReasonsTests
{
    private static readonly string[] s_constants = typeof(ErrorReasons)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.Name != nameof(ErrorReasons.Domain))
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    [Fact]
    public void Domain_IsTheProtoPackage()
    {
        Assert.Equal(ErrorReasons.Domain, FibermanagerReflection.Descriptor.Package);
    }

    [Fact]
    public void All_ListsEveryReasonOnce()
    {
        Assert.Equal(s_constants.Order(StringComparer.Ordinal), ErrorReasons.All.Order(StringComparer.Ordinal));
        Assert.Equal(ErrorReasons.All.Count, ErrorReasons.All.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void DesignReasons_ArePresent()
    {
        string[] design =
        [
            "FIBER_NOT_FOUND", "FIBER_ALREADY_EXISTS", "FIBER_PAUSED", "FIBER_ENDED", "CONCURRENCY_LIMIT_REACHED",
            "INPUT_QUEUE_FULL", "INVALID_FIBER_ID", "INVALID_ARGUMENT", "WORKFLOW_NOT_FOUND", "SHUTTING_DOWN",
            "DEADLINE_EXCEEDED",
        ];
        Assert.All(design, reason => Assert.Contains(reason, ErrorReasons.All));
    }

    [Fact]
    public void EveryReason_IsUpperSnakeCase()
    {
        Assert.All(ErrorReasons.All, reason => Assert.Matches(UpperSnake(), reason));
    }

    [Fact]
    public void EveryReason_IsDocumentedInTheProtoErrorTable()
    {
        string proto = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "protos", "fibermanager", "v1", "fibermanager.proto"));
        HashSet<string> tableReasons = TableRow().Matches(proto).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(ErrorReasons.All.ToHashSet(StringComparer.Ordinal), tableReasons);
    }

    [GeneratedRegex("^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")]
    private static partial Regex UpperSnake();

    // A row of the table in the proto's header comment: "//   REASON   CODE   when".
    [GeneratedRegex(@"^//   ([A-Z_]+) +[A-Z_]+ +\S", RegexOptions.Multiline)]
    private static partial Regex TableRow();
}
