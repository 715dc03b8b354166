using System.Threading.Channels;
using FiberManager.Core.Management;

namespace FiberManager.Workloads;

/// <summary>The managed fibers of W2 and W3: input capacity 64, hub capacity 64, echo workflow, ids fiber-&lt;i&gt;.</summary>
internal static class ManagedSetup
{
    public const int Capacity = 64;

    public static FiberSupervisor<long, long> CreateManager(int fibers) => new(new FiberSupervisorOptions
    {
        MaxConcurrentFibers = fibers + 16,
        DefaultInputCapacity = Capacity,
        ReplayCapacity = Capacity,
        SubscriberBufferCapacity = Capacity,
    });

    public static string Id(int i) => "fiber-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Waits until every fiber's loop is parked on its input (status Idle).</summary>
    public static Task<bool> WaitAllIdleAsync(FiberSupervisor<long, long> manager, IReadOnlyList<string> ids) =>
        Measure.WaitUntilAsync(
            () =>
            {
                foreach (var id in ids)
                {
                    if (manager.GetStatus(id).Status != ManagedFiberStatus.Idle)
                    {
                        return false;
                    }
                }

                return true;
            },
            TimeSpan.FromMinutes(2));

    /// <summary>Bounded channel options of the bare twins: capacity 64, writers wait when full.</summary>
    public static BoundedChannelOptions BareChannelOptions() => new(Capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = false,
        SingleWriter = false,
    };
}

/// <summary>The workflow of W2/W3: forever read input, publish it (the service's echo, over longs).</summary>
internal sealed class EchoWorkflow : IWorkflow<long, long>
{
    public static readonly EchoWorkflow Instance = new();

    public async Task RunAsync(WorkflowContext<long, long> context)
    {
        var input = context.Input;
        while (await input.WaitToReadAsync(context.CancellationToken).ConfigureAwait(false))
        {
            while (input.TryRead(out var item))
            {
                context.Publish(item);
            }
        }
    }
}

/// <summary>
/// The bare-.NET twin of a managed fiber: two bounded channels (inbox, outbox), a pump task,
/// a CancellationTokenSource, and an entry in a dictionary that it leaves when its task ends.
/// </summary>
internal sealed class BareFiber
{
    public BareFiber(string id)
    {
        Id = id;
        Inbox = Channel.CreateBounded<long>(ManagedSetup.BareChannelOptions());
        Outbox = Channel.CreateBounded<long>(ManagedSetup.BareChannelOptions());
    }

    public string Id { get; }

    public Channel<long> Inbox { get; }

    public Channel<long> Outbox { get; }

    public CancellationTokenSource Cancellation { get; } = new();

    public Task Loop { get; private set; } = Task.CompletedTask;

    public void Start(BareRegistry registry, Action? parked = null) =>
        Loop = Task.Run(() => PumpAsync(registry, parked));

    private async Task PumpAsync(BareRegistry registry, Action? parked)
    {
        try
        {
            var token = Cancellation.Token;
            parked?.Invoke();
            while (await Inbox.Reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (Inbox.Reader.TryRead(out var item))
                {
                    if (!Outbox.Writer.TryWrite(item))
                    {
                        await Outbox.Writer.WriteAsync(item, token).ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            registry.Remove(Id);
        }
    }
}

/// <summary>The bare twin's registry: a dictionary under a lock.</summary>
internal sealed class BareRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, BareFiber> _fibers = new(StringComparer.Ordinal);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _fibers.Count;
            }
        }
    }

    public void Add(BareFiber fiber)
    {
        lock (_lock)
        {
            _fibers.Add(fiber.Id, fiber);
        }
    }

    public BareFiber Get(string id)
    {
        lock (_lock)
        {
            return _fibers[id];
        }
    }

    public BareFiber[] All()
    {
        lock (_lock)
        {
            return [.. _fibers.Values];
        }
    }

    public void Remove(string id)
    {
        lock (_lock)
        {
            _fibers.Remove(id);
        }
    }
}
