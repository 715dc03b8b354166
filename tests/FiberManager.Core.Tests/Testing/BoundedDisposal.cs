namespace FiberManager.Core.Tests.Testing;

public static class BoundedDisposal
{
    /// <summary>
    /// Wraps <paramref name="disposable"/> so that <c>await using</c> waits for its disposal with the
    /// default timeout, like every other await in a test.
    /// </summary>
    /// <example><code>var runtime = new FiberRuntime(); await using var cleanup = runtime.DisposeBounded();</code></example>
    public static IAsyncDisposable DisposeBounded(this IAsyncDisposable disposable) => new Bounded(disposable);

    private sealed class Bounded(IAsyncDisposable inner) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await inner.DisposeAsync().DefaultTimeout();
    }
}
