using System.Net;
using System.Net.Sockets;

namespace FiberManager.Client.Tests.TestSupport;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of the service, owned by a test: it can cut every open
/// connection at once with a reset (a connection lost for real, no HTTP/2 goodbye), hold new
/// connections until released (a server that is unreachable for a while), or refuse them.
/// </summary>
public sealed class LoopbackProxy : IAsyncDisposable
{
    private readonly Uri _upstream;
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(Socket Client, Socket Server)> _open = [];
    private readonly List<Task> _pumps = [];
    private readonly Task _accepting;
    private TaskCompletionSource _released = CompletedGate();
    private bool _refusing;
    private int _accepted;

    public LoopbackProxy(Uri upstream)
    {
        _upstream = upstream;
        _listener.Start();
        Address = new UriBuilder(upstream) { Port = ((IPEndPoint)_listener.LocalEndpoint).Port }.Uri;
        _accepting = AcceptAsync();
    }

    /// <summary>The proxy's address (same scheme and host as the service's).</summary>
    public Uri Address { get; }

    /// <summary>Connections accepted so far (forwarded, held or refused).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Resets every open connection on both sides; later connections are handled as configured.</summary>
    public void Cut()
    {
        List<(Socket Client, Socket Server)> open;
        lock (_gate)
        {
            open = [.. _open];
            _open.Clear();
        }

        foreach (var (client, server) in open)
        {
            Reset(client);
            Reset(server);
        }
    }

    /// <summary>New connections are accepted but not forwarded until <see cref="Release"/>.</summary>
    public void Hold()
    {
        lock (_gate)
        {
            if (_released.Task.IsCompleted)
            {
                _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Forwards the held connections and every later one.</summary>
    public void Release()
    {
        TaskCompletionSource released;
        lock (_gate)
        {
            released = _released;
        }

        released.TrySetResult();
    }

    /// <summary>New connections are accepted and reset at once (true) or forwarded (false).</summary>
    public void Refuse(bool refuse)
    {
        lock (_gate)
        {
            _refusing = refuse;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Release();
        Cut();
        Task[] pumps;
        lock (_gate)
        {
            pumps = [.. _pumps];
        }

        await Task.WhenAll(pumps.Append(_accepting)).WaitAsync(TestTimeouts.Default);
        _stop.Dispose();
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            bool refusing;
            Task released;
            lock (_gate)
            {
                refusing = _refusing;
                released = _released.Task;
            }

            if (refusing)
            {
                Reset(client);
                continue;
            }

            var forwarding = ForwardAsync(client, released);
            lock (_gate)
            {
                _pumps.Add(forwarding);
            }
        }
    }

    private async Task ForwardAsync(Socket client, Task released)
    {
        var server = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await released.WaitAsync(_stop.Token);
            await server.ConnectAsync(_upstream.Host, _upstream.Port, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            Reset(client);
            server.Dispose();
            return;
        }

        lock (_gate)
        {
            _open.Add((client, server));
        }

        // Either direction ending (a cut, or a peer closing) resets both sides.
        await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        Reset(client);
        Reset(server);
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // cut, reset by a peer, or the proxy stopping
        }
    }
}
