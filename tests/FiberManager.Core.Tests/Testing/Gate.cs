namespace FiberManager.Core.Tests.Testing;

/// <summary>Sync points for tests: completion sources whose waiters never run inline in the completing call.</summary>
public static class Gate
{
    public static TaskCompletionSource Create() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static TaskCompletionSource<T> Create<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>An exception type no runtime code throws, so a test can tell it apart from everything else.</summary>
public sealed class TestException(string message) : Exception(message);
