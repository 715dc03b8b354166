namespace FiberManager.Client.Tests.TestSupport;

/// <summary>Client options whose retries and Subscribe reopenings wait at most 5 ms, so that a test that uses them all up ends at once.</summary>
public static class FastRetries
{
    public static FiberManagerClientOptions Options(Uri address, int maxRetries = 4, int maxResumes = 4)
    {
        var options = new FiberManagerClientOptions { Address = address };
        options.Retry.MaxRetries = maxRetries;
        options.SubscribeResume.MaxRetries = maxResumes;
        foreach (var retry in new[] { options.Retry, options.SubscribeResume })
        {
            retry.InitialBackoff = TimeSpan.FromMilliseconds(1);
            retry.MaxBackoff = TimeSpan.FromMilliseconds(5);
        }

        return options;
    }
}
