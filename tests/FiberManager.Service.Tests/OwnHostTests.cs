using FiberManager.Core.Management;
using FiberManager.Protocol.V1;
using FiberManager.Service.Hosting;
using FiberManager.Service.Workflows;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Service.Tests;

/// <summary>
/// The README's "your own host" snippet, as written: a plain ASP.NET Core Program.cs that adds the
/// FiberManager service and registers a workflow of its own, served next to the built-in ones.
/// </summary>
public sealed class OwnHostTests
{
    [Fact]
    public async Task OwnProgram_AddFiberManagerServiceAndAddWorkflow_ServesItsWorkflowOverGrpc()
    {
        string[] args = ["--urls=http://127.0.0.1:0"]; // as a user would pass on the command line

        // --- the README snippet ---
        var builder = WebApplication.CreateBuilder(args);
        builder.AddFiberManagerService();
        builder.Services.AddWorkflow<UppercaseWorkflow>("upper", "Publishes every text input in upper case.");
        var app = builder.Build();
        app.MapFiberManagerService();
        // --- end (app.Run() there; started and stopped by the test here) ---

        await using var _ = app;
        await app.StartAsync().WaitAsync(TestTimeouts.Default);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new FiberManager.Client.FiberManagerClient(address);

        var workflows = await client.ListWorkflowsAsync().DefaultTimeout();
        Assert.Contains(workflows, w => w.Name == "upper" && w.Description == "Publishes every text input in upper case.");
        Assert.Contains(workflows, w => w.Name == "echo");

        await client.StartAsync("own-host-1", "upper").DefaultTimeout();
        await using var events = new EventReader(client, "own-host-1");
        await client.SubmitAsync("own-host-1", Value.ForString("hello")).DefaultTimeout();
        Assert.Equal("HELLO", (await events.NextOutputAsync()).Output.Json.StringValue);
        await client.InterruptAsync("own-host-1").DefaultTimeout();
        await app.StopAsync().WaitAsync(TestTimeouts.Default);
    }

    /// <summary>The README's workflow.</summary>
    private sealed class UppercaseWorkflow : IWorkflow<Payload, Payload>
    {
        public async Task RunAsync(WorkflowContext<Payload, Payload> context)
        {
            await foreach (var input in context.Input.ReadAllAsync(context.CancellationToken))
            {
                context.Publish(new Payload { Json = Value.ForString(input.Json.StringValue.ToUpperInvariant()) });
            }
        }
    }
}
