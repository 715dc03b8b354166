using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>ListFibers and ListWorkflows.</summary>
public sealed class ListTests(SharedServiceFixture fixture) : IClassFixture<SharedServiceFixture>
{
    private FiberManagerClient Client => fixture.Host.Client;

    /// <summary>Five fibers carrying a label unique to the test: echo-0, echo-1 (paused), agg-2, agg-3, agg-4 (interrupted).</summary>
    private async Task<(string Run, string[] Ids)> StartFiveAsync()
    {
        var run = Guid.NewGuid().ToString("N");
        string[] ids = [$"list-{run}-0", $"list-{run}-1", $"list-{run}-2", $"list-{run}-3", $"list-{run}-4"];
        for (var i = 0; i < ids.Length; i++)
        {
            var request = new StartRequest { FiberId = ids[i], Workflow = i < 2 ? "echo" : "aggregate" };
            request.Labels.Add("run", run);
            request.Labels.Add("parity", i % 2 == 0 ? "even" : "odd");
            await Client.StartAsync(request).DefaultTimeout();
        }

        await Client.PauseAsync(ids[1]).DefaultTimeout();
        await Client.InterruptAsync(ids[4]).DefaultTimeout();
        return (run, ids);
    }

    private static ListFibersRequest ForRun(string run)
    {
        var request = new ListFibersRequest();
        request.Labels.Add("run", run);
        return request;
    }

    private async Task InterruptAllAsync(string[] ids)
    {
        foreach (var id in ids)
        {
            await Client.InterruptAsync(id).DefaultTimeout();
        }
    }

    [Fact]
    public async Task ListFibers_ByLabels_AllOfTheRunOrderedById()
    {
        var (run, ids) = await StartFiveAsync();

        var page = await Client.ListFibersAsync(ForRun(run)).DefaultTimeout();

        Assert.Equal(5U, page.TotalSize);
        Assert.Equal(ids, page.Fibers.Select(f => f.FiberId));
        Assert.Equal(string.Empty, page.NextPageToken);
        Assert.Equal(FiberStatus.Paused, page.Fibers[1].Status);
        Assert.Equal(FiberStatus.Interrupted, page.Fibers[4].Status);

        var odd = ForRun(run);
        odd.Labels.Add("parity", "odd");
        var oddPage = await Client.ListFibersAsync(odd).DefaultTimeout();
        Assert.Equal([ids[1], ids[3]], oddPage.Fibers.Select(f => f.FiberId));
        Assert.Equal(2U, oddPage.TotalSize);

        await InterruptAllAsync(ids);
    }

    [Fact]
    public async Task ListFibers_ByWorkflowAndStatus_Filtered()
    {
        var (run, ids) = await StartFiveAsync();

        var aggregate = ForRun(run);
        aggregate.Workflow = "aggregate";
        var page = await Client.ListFibersAsync(aggregate).DefaultTimeout();
        Assert.Equal([ids[2], ids[3], ids[4]], page.Fibers.Select(f => f.FiberId));
        Assert.All(page.Fibers, f => Assert.Equal("aggregate", f.Workflow));

        var paused = ForRun(run);
        paused.Statuses.Add(FiberStatus.Paused);
        Assert.Equal([ids[1]], (await Client.ListFibersAsync(paused).DefaultTimeout()).Fibers.Select(f => f.FiberId));

        var ended = ForRun(run);
        ended.Statuses.Add(FiberStatus.Interrupted);
        ended.Statuses.Add(FiberStatus.Completed);
        ended.Statuses.Add(FiberStatus.Failed);
        Assert.Equal([ids[4]], (await Client.ListFibersAsync(ended).DefaultTimeout()).Fibers.Select(f => f.FiberId));

        var aggregatePaused = ForRun(run);
        aggregatePaused.Workflow = "aggregate";
        aggregatePaused.Statuses.Add(FiberStatus.Paused);
        var none = await Client.ListFibersAsync(aggregatePaused).DefaultTimeout();
        Assert.Empty(none.Fibers);
        Assert.Equal(0U, none.TotalSize);

        await InterruptAllAsync(ids);
    }

    [Fact]
    public async Task ListFibers_StatusUnspecified_MatchesNothing()
    {
        var (run, ids) = await StartFiveAsync();

        var unspecified = ForRun(run);
        unspecified.Statuses.Add(FiberStatus.Unspecified);
        var page = await Client.ListFibersAsync(unspecified).DefaultTimeout();
        Assert.Empty(page.Fibers);
        Assert.Equal(0U, page.TotalSize);

        var withPaused = ForRun(run);
        withPaused.Statuses.Add(FiberStatus.Unspecified);
        withPaused.Statuses.Add(FiberStatus.Paused);
        Assert.Equal([ids[1]], (await Client.ListFibersAsync(withPaused).DefaultTimeout()).Fibers.Select(f => f.FiberId));

        await InterruptAllAsync(ids);
    }

    [Fact]
    public async Task ListFibers_PageSizeTwo_PagesThroughWithTokens()
    {
        var (run, ids) = await StartFiveAsync();
        var seen = new List<string>();
        var token = string.Empty;
        var pages = 0;
        do
        {
            var request = ForRun(run);
            request.PageSize = 2;
            request.PageToken = token;
            var page = await Client.ListFibersAsync(request).DefaultTimeout();
            Assert.Equal(5U, page.TotalSize);
            Assert.True(page.Fibers.Count <= 2);
            seen.AddRange(page.Fibers.Select(f => f.FiberId));
            token = page.NextPageToken;
            pages++;
        }
        while (token.Length > 0 && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(ids, seen);
        await InterruptAllAsync(ids);
    }

    [Fact]
    public async Task ListFibers_GarbagePageToken_InvalidArgument()
    {
        await RpcAssert.FailsAsync(
            () => Client.ListFibersAsync(new ListFibersRequest { PageToken = "not-a-token" }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
    }

    [Fact]
    public async Task ListFibers_PageTokenReusedWithOtherFilters_InvalidArgument()
    {
        var (run, ids) = await StartFiveAsync();
        var first = ForRun(run);
        first.PageSize = 2;
        var token = (await Client.ListFibersAsync(first).DefaultTimeout()).NextPageToken;
        Assert.NotEmpty(token);

        var otherLabels = ForRun(run);
        otherLabels.Labels.Add("parity", "odd");
        otherLabels.PageToken = token;
        var error = await RpcAssert.FailsAsync(() => Client.ListFibersAsync(otherLabels), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "page_token");
        Assert.Contains("other filters", error.Status.Detail, StringComparison.Ordinal);

        var otherWorkflow = ForRun(run);
        otherWorkflow.Workflow = "echo";
        otherWorkflow.PageToken = token;
        await RpcAssert.FailsAsync(() => Client.ListFibersAsync(otherWorkflow), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);

        // The same filters with another page size continue where the first page ended.
        var same = ForRun(run);
        same.PageSize = 10;
        same.PageToken = token;
        Assert.Equal(ids[2..], (await Client.ListFibersAsync(same).DefaultTimeout()).Fibers.Select(f => f.FiberId));
        await InterruptAllAsync(ids);
    }

    [Fact]
    public async Task ListFibers_MadeUpPageToken_InvalidArgument()
    {
        // What the tokens used to be: base64 of "after:" and a fiber id, which anyone could make.
        var token = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("after:list-a"));
        var error = await RpcAssert.FailsAsync(
            () => Client.ListFibersAsync(new ListFibersRequest { PageToken = token }),
            StatusCode.InvalidArgument,
            ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "page_token");
    }

    [Fact]
    public async Task ListFibers_UnknownStatusValue_InvalidArgument()
    {
        var request = new ListFibersRequest();
        request.Statuses.Add((FiberStatus)99);
        var error = await RpcAssert.FailsAsync(() => Client.ListFibersAsync(request), StatusCode.InvalidArgument, ErrorReasons.InvalidArgument);
        RpcAssert.HasMetadata(error, ErrorMetadataKeys.Field, "statuses");
    }

    [Fact]
    public async Task ListWorkflows_EchoAndAggregate_WithDescriptionsOrderedByName()
    {
        var workflows = await Client.ListWorkflowsAsync().DefaultTimeout();

        var echo = Assert.Single(workflows, w => w.Name == "echo");
        Assert.Contains("unchanged", echo.Description, StringComparison.Ordinal);
        var aggregate = Assert.Single(workflows, w => w.Name == "aggregate");
        Assert.Contains("batch_size", aggregate.Description, StringComparison.Ordinal);
        Assert.All(workflows, w => Assert.False(string.IsNullOrWhiteSpace(w.Description)));
        Assert.Equal(workflows.Select(w => w.Name).Order(StringComparer.Ordinal), workflows.Select(w => w.Name));
    }
}
