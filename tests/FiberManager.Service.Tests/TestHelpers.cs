using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Grpc.Core;

namespace FiberManager.Service.Tests;

/// <summary>Unique fiber ids, so tests sharing a host never collide.</summary>
public static class Ids
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}

/// <summary>Assertions on failed calls: status code, ErrorInfo reason, domain and metadata.</summary>
public static class RpcAssert
{
    public static async Task<RpcException> FailsAsync(Func<Task> call, StatusCode code, string? reason)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call).DefaultTimeout();
        Assert.True(code == error.StatusCode, $"Expected {code}, got {error.StatusCode}: {error.Message}");
        if (reason is null)
        {
            Assert.Null(error.GetErrorInfo());
        }
        else
        {
            Assert.True(error.GetErrorInfo() is not null, $"Expected reason {reason}, got no ErrorInfo: {error.Message}");
            Assert.Equal(reason, error.GetReason());
            Assert.Equal(ErrorReasons.Domain, error.GetErrorInfo()!.Domain);
        }

        return error;
    }

    public static void HasMetadata(RpcException error, string key, string value)
    {
        var info = error.GetErrorInfo();
        Assert.NotNull(info);
        Assert.True(info.Metadata.TryGetValue(key, out var actual), $"ErrorInfo has no metadata '{key}': {info}");
        Assert.Equal(value, actual);
    }
}

/// <summary>Polling for facts no event reports (bounded; for example a subscriber count going down).</summary>
public static class Eventually
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestTimeouts.Default);
        while (true)
        {
            var value = await probe().DefaultTimeout();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Condition not reached; last value: {value}");
            }

            await Task.Delay(20);
        }
    }
}

/// <summary>
/// A Subscribe stream read event by event, every read bounded by the default timeout. Disposing
/// it cancels the stream if it is still open.
/// </summary>
public sealed class EventReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly IAsyncEnumerator<FiberEvent> _events;
    private Task<bool>? _pending;

    public EventReader(FiberManagerClient client, string fiberId, ulong fromSequence = 0)
    {
        _events = client.SubscribeAsync(fiberId, fromSequence, _cts.Token).GetAsyncEnumerator(_cts.Token);
    }

    public List<FiberEvent> Received { get; } = [];

    /// <summary>The next event; fails if the stream ends first.</summary>
    public async Task<FiberEvent> NextAsync()
    {
        Assert.True(await MoveNextAsync(), "The stream ended before the expected event.");
        return _events.Current;
    }

    /// <summary>Skips events until one of <paramref name="kind"/>.</summary>
    public async Task<FiberEvent> NextOfAsync(FiberEvent.EventOneofCase kind)
    {
        while (true)
        {
            var e = await NextAsync();
            if (e.EventCase == kind)
            {
                return e;
            }
        }
    }

    public Task<FiberEvent> NextOutputAsync() => NextOfAsync(FiberEvent.EventOneofCase.Output);

    /// <summary>Reads up to the terminated event, then checks the stream ends with OK right after it.</summary>
    public async Task<FiberEvent> TerminatedThenEndAsync()
    {
        var terminated = await NextOfAsync(FiberEvent.EventOneofCase.Terminated);
        await EndsAsync();
        return terminated;
    }

    /// <summary>Checks the stream ends (status OK: a non-OK status throws).</summary>
    public async Task EndsAsync() => Assert.False(await MoveNextAsync(), "Expected the stream to end.");

    public void Cancel() => _cts.Cancel();

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        try
        {
            // A read that timed out may still be pending: let it finish (cancelled) before disposing.
            if (_pending is { } pending)
            {
                await pending.WaitAsync(TestTimeouts.Default).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // The read's outcome was already reported (or is irrelevant once the test is done).
        }

        try
        {
            await _events.DisposeAsync().AsTask().DefaultTimeout();
        }
        catch (OperationCanceledException)
        {
        }

        _cts.Dispose();
    }

    private async Task<bool> MoveNextAsync()
    {
        _pending = _events.MoveNextAsync().AsTask();
        var more = await _pending.DefaultTimeout();
        _pending = null;
        if (more)
        {
            Received.Add(_events.Current);
        }

        return more;
    }
}
