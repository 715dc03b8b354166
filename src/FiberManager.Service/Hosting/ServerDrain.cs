namespace FiberManager.Service.Hosting;

/// <summary>
/// Signals that the manager has finished shutting down (every fiber ended, every terminated
/// event delivered). Streaming calls still open then are ended by the server; before then they
/// end on their own (a Subscribe ends after its terminated event).
/// </summary>
internal sealed class ServerDrain : IDisposable
{
    private readonly CancellationTokenSource _drained = new();

    public CancellationToken Drained => _drained.Token;

    public void Signal() => _drained.Cancel();

    public void Dispose() => _drained.Dispose();
}
