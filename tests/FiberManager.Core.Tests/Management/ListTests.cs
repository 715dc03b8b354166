using System.Text;
using FiberManager.Core.Management;
using FiberManager.Core.Tests.Testing;
using static FiberManager.Core.Tests.Management.ManagerTesting;

namespace FiberManager.Core.Tests.Management;

public sealed class ListTests : ManagerTestBase
{
    private static Dictionary<string, string> Tenant(string tenant) => new() { ["tenant"] = tenant };

    [Fact]
    public async Task List_Filters_ByStatusWorkflowAndLabels()
    {
        var manager = NewManager();
        await manager.StartAsync("a", "parked", new ProbeWorkflow(), new StartOptions { Labels = Tenant("x") }).DefaultTimeout();
        await manager.StartAsync("b", "parked", new ProbeWorkflow(), new StartOptions { Labels = Tenant("y"), StartPaused = true }).DefaultTimeout();
        await manager.StartAsync("c", "other", new ProbeWorkflow(), new StartOptions { Labels = new Dictionary<string, string> { ["tenant"] = "x", ["tier"] = "gold" } }).DefaultTimeout();
        await manager.StartAsync("d", "parked", new ProbeWorkflow(), new StartOptions { Labels = Tenant("x") }).DefaultTimeout();
        await manager.InterruptAsync("d").DefaultTimeout();

        string[] Ids(FiberQuery query) => [.. manager.List(query).Fibers.Select(f => f.FiberId)];

        Assert.Equal(["a", "b", "c", "d"], Ids(new FiberQuery()));
        Assert.Equal(["b"], Ids(new FiberQuery { Statuses = [ManagedFiberStatus.Paused] }));
        Assert.Equal(["d"], Ids(new FiberQuery { Statuses = [ManagedFiberStatus.Interrupted] }));
        Assert.Equal(["a", "c"], Ids(new FiberQuery { Statuses = [ManagedFiberStatus.Running, ManagedFiberStatus.Idle] }));
        Assert.Equal(["c"], Ids(new FiberQuery { Workflow = "other" }));
        Assert.Equal(["a", "c", "d"], Ids(new FiberQuery { Labels = Tenant("x") }));
        Assert.Equal(["c"], Ids(new FiberQuery { Labels = new Dictionary<string, string> { ["tenant"] = "x", ["tier"] = "gold" } }));
        Assert.Equal(["a", "d"], Ids(new FiberQuery { Labels = Tenant("x"), Workflow = "parked" }));
        Assert.Equal(["a"], Ids(new FiberQuery { Labels = Tenant("x"), Workflow = "parked", Statuses = [ManagedFiberStatus.Running] }));
        Assert.Empty(Ids(new FiberQuery { Labels = Tenant("z") }));
        Assert.Equal(3, manager.List(new FiberQuery { Labels = Tenant("x") }).TotalSize);
        manager.AssertSettled(3);
    }

    [Fact]
    public async Task List_250Fibers_ThreePagesOf100InIdOrderWithoutDuplicates()
    {
        var manager = NewManager(o => o.MaxConcurrentFibers = 300);
        var random = new Random(250);
        foreach (var n in Enumerable.Range(0, 250).OrderBy(_ => random.Next()))
        {
            await manager.StartAsync($"fiber-{n:D3}", "parked", new ProbeWorkflow()).DefaultTimeout();
        }

        var pages = new List<FiberPage>();
        string? token = null;
        do
        {
            var page = manager.List(new FiberQuery { PageSize = 100, PageToken = token });
            pages.Add(page);
            token = page.NextPageToken;
        }
        while (token.Length > 0 && pages.Count < 10);

        Assert.Equal([100, 100, 50], pages.Select(p => p.Fibers.Count));
        Assert.All(pages, p => Assert.Equal(250, p.TotalSize));
        Assert.NotEmpty(pages[0].NextPageToken);
        Assert.NotEmpty(pages[1].NextPageToken);
        Assert.Empty(pages[2].NextPageToken);
        var ids = pages.SelectMany(p => p.Fibers).Select(f => f.FiberId).ToList();
        Assert.Equal(Enumerable.Range(0, 250).Select(n => $"fiber-{n:D3}"), ids);
        Assert.Equal(100, manager.List().Fibers.Count);
        manager.AssertSettled(250);
    }

    [Fact]
    public async Task List_PageSizeAboveTheMaximum_IsCapped()
    {
        var manager = NewManager(o => o.MaxPageSize = 2);
        foreach (var id in new[] { "a", "b", "c" })
        {
            await manager.StartAsync(id, "parked", new ProbeWorkflow()).DefaultTimeout();
        }

        var first = manager.List(new FiberQuery { PageSize = 50 });
        var second = manager.List(new FiberQuery { PageSize = 50, PageToken = first.NextPageToken });

        Assert.Equal(["a", "b"], first.Fibers.Select(f => f.FiberId));
        Assert.Equal(["c"], second.Fibers.Select(f => f.FiberId));
        Assert.Empty(second.NextPageToken);
        manager.AssertSettled(3);
    }

    public static TheoryData<string> InvalidTokens => new()
    {
        "###",
        Convert.ToBase64String(Encoding.UTF8.GetBytes("nope")),
        Convert.ToBase64String(Encoding.UTF8.GetBytes("after:not an id")),
    };

    [Theory]
    [MemberData(nameof(InvalidTokens))]
    public async Task List_InvalidPageToken_ThrowsInvalidArgument(string token)
    {
        var manager = NewManager();
        await manager.StartAsync("a", "parked", new ProbeWorkflow()).DefaultTimeout();

        ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.List(new FiberQuery { PageToken = token }));
    }

    public static TheoryData<string> OtherFilters => new() { "statuses", "workflow", "labels" };

    [Theory]
    [MemberData(nameof(OtherFilters))]
    public async Task List_PageTokenReusedWithOtherFilters_ThrowsInvalidArgument(string changed)
    {
        var manager = NewManager();
        var labels = new Dictionary<string, string> { ["team"] = "a" };
        foreach (var id in new[] { "a", "b", "c" })
        {
            await manager.StartAsync(id, "parked", new ProbeWorkflow(), new StartOptions { Labels = labels }).DefaultTimeout();
        }

        var query = new FiberQuery { Statuses = [ManagedFiberStatus.Running], Workflow = "parked", Labels = labels, PageSize = 1 };
        var first = manager.List(query);
        Assert.Equal(["a"], first.Fibers.Select(f => f.FiberId));
        var next = query with { PageToken = first.NextPageToken };

        // The same filters (given in another order or form) and another page size continue.
        var same = next with { Statuses = [ManagedFiberStatus.Running, ManagedFiberStatus.Running], Labels = new Dictionary<string, string>(labels), PageSize = 5 };
        Assert.Equal(["b", "c"], manager.List(same).Fibers.Select(f => f.FiberId));

        var other = changed switch
        {
            "statuses" => next with { Statuses = [ManagedFiberStatus.Running, ManagedFiberStatus.Paused] },
            "workflow" => next with { Workflow = null },
            _ => next with { Labels = new Dictionary<string, string> { ["team"] = "b" } },
        };
        var error = ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.List(other));
        Assert.Equal("page_token", error.Metadata["field"]);
        Assert.Contains("other filters", error.Message, StringComparison.Ordinal);
        manager.AssertSettled(3);
    }

    [Fact]
    public async Task List_PageTokenAlteredOrFromAnotherManager_ThrowsInvalidArgument()
    {
        var manager = NewManager();
        var other = NewManager();
        foreach (var id in new[] { "a", "b", "c" })
        {
            await manager.StartAsync(id, "parked", new ProbeWorkflow()).DefaultTimeout();
            await other.StartAsync(id, "parked", new ProbeWorkflow()).DefaultTimeout();
        }

        var token = other.List(new FiberQuery { PageSize = 1 }).NextPageToken;
        var error = ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.List(new FiberQuery { PageSize = 1, PageToken = token }));
        Assert.Contains("not issued by this server", error.Message, StringComparison.Ordinal);

        // The last id in a genuine token changed from "a" to "b": the signature no longer matches.
        var bytes = System.Buffers.Text.Base64Url.DecodeFromChars(manager.List(new FiberQuery { PageSize = 1 }).NextPageToken);
        var at = Array.IndexOf(bytes, (byte)'a', 9);
        bytes[at] = (byte)'b';
        error = ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.List(new FiberQuery { PageSize = 1, PageToken = System.Buffers.Text.Base64Url.EncodeToString(bytes) }));
        Assert.Contains("not issued by this server", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_NegativePageSize_ThrowsInvalidArgument()
    {
        var manager = NewManager();
        await Task.CompletedTask;

        ThrowsCode(FiberErrorCode.InvalidArgument, () => manager.List(new FiberQuery { PageSize = -1 }));
    }
}
